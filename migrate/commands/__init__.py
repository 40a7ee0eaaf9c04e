"""One module per `migrate` command, each thin: parse options, call one engine function,
render the result.

:mod:`migrate.cli` assembles the group and imports a command's module only when that
command runs; the engine is imported inside each command, so ``--help`` imports neither
libcst nor httpx. What the commands share is in :mod:`._options` (arguments and options)
and :mod:`._output` (JSON, colour, progress, the ``next:`` line). Failures are raised as
:mod:`migrate.errors` classes, which carry their exit code; the group renders them.
"""
