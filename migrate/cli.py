"""The `migrate` command line: the group that assembles :mod:`migrate.commands`.

A command's module is imported only when it runs (``--help`` stays fast and works
without the codemods' heavy imports). Every expected failure ends here, in :func:`run`,
as one line and its exit code: a :mod:`migrate.errors` class carries its own, a usage
error is 64, Ctrl-C is 130, an unreadable or unwritable file is 1, and ``--help`` is 0.
With ``--format json`` the error is a JSON object on stdout instead, so a program reading
stdout always gets JSON. No command translates an error: this is the one place.
"""

from __future__ import annotations

import importlib
import json
import signal
import sys
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import click

from migrate import __version__
from migrate.errors import MigrateError, adopt
from migrate.exit_codes import Exit, table


@dataclass(frozen=True)
class Entry:
    """A command: the click command ``attr`` of ``migrate.commands.<name>``, and its line
    in ``--help`` (given here, so ``--help`` imports no command module)."""

    attr: str
    help: str


COMMANDS: dict[str, Entry] = {
    "plan": Entry("plan_command", "Show what `apply` would change."),
    "apply": Entry("apply_command", "Enter the hybrid phase."),
    "status": Entry("status_command", "Say whether finalize is safe yet."),
    "finalize": Entry("finalize_command", "Remove the opaque-token path."),
    "rollback": Entry("rollback_command", "Undo the last apply or finalize."),
    "verify": Entry("verify_command", "Check a running server."),
    "keys": Entry("keys_group", "Generate, list and rotate signing keys."),
}


def command_module(name: str) -> str:
    """Where the command ``name`` lives: one module per command."""
    return f"migrate.commands.{name}"


EPILOG = "Exit codes (every command):\n\n\b\n" + table()


class MigrateGroup(click.Group):
    """A group that imports a command when it runs and turns failures into exit codes."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        entry = COMMANDS.get(cmd_name)
        if entry is None:
            return None
        module = importlib.import_module(command_module(cmd_name))
        command: click.Command = getattr(module, entry.attr)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        with formatter.section("Commands"):
            formatter.write_dl([(name, entry.help) for name, entry in COMMANDS.items()])

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        argv = list(sys.argv[1:] if args is None else args)
        code = run(self, argv, prog_name or "migrate", complete_var, extra)
        if standalone_mode:
            sys.exit(code)
        return code


INTERRUPTED = "interrupted: the command stopped (apply and rollback undo an unfinished write)"


def _terminate(signum: int, frame: object) -> None:
    """SIGTERM ends the command as Ctrl-C does: the same undo, the same exit code."""
    raise KeyboardInterrupt


def run(
    group: click.Group,
    argv: list[str],
    prog_name: str,
    complete_var: str | None,
    extra: dict[str, Any],
) -> int:
    """Run the group without click's own error handling; return the exit code."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _terminate)
    try:
        result = click.Group.main(
            group, argv, prog_name, complete_var, standalone_mode=False, **extra
        )
    except MigrateError as problem:
        return report_error(argv, problem)
    except click.exceptions.NoArgsIsHelpError as problem:
        click.echo(problem.format_message())  # a bare `migrate`: the help, not an error
        return int(Exit.OK)
    except click.UsageError as problem:
        hint = f"{problem.ctx.command_path} --help" if problem.ctx else "migrate --help"
        return report(argv, f"{problem.format_message()} (see {hint})", Exit.USAGE)
    except click.ClickException as problem:
        return report(argv, problem.format_message(), Exit(problem.exit_code))
    except click.Abort as aborted:
        if isinstance(aborted.__cause__, KeyboardInterrupt):
            return report(argv, INTERRUPTED, Exit.INTERRUPTED)
        return report(argv, "aborted; nothing was changed", Exit.ERROR)
    except KeyboardInterrupt:
        return report(argv, INTERRUPTED, Exit.INTERRUPTED)
    except BrokenPipeError:
        sys.stderr.close()  # the reader went away (`| head`): nothing left to say
        return int(Exit.OK)
    except OSError as problem:
        return report(argv, describe_os_error(problem), Exit.ERROR)
    except Exception as problem:
        adopted = adopt(problem)  # a refusal not raised as a MigrateError (errors.FOREIGN)
        if adopted is None:
            raise  # a bug: its traceback, not a made-up exit code
        return report_error(argv, adopted)
    return result if isinstance(result, int) else int(Exit.OK)


def describe_os_error(problem: OSError) -> str:
    """``where: what`` for a file the command could not read or write, and what to do."""
    # os.replace(temporary, target) names the target second: that is the file meant.
    where = str(problem.filename2 or problem.filename or "a file")
    name = where.rpartition("/")[2]
    if name.startswith(".") and name.endswith((".tmp", "-tmp")):  # a temporary: its folder
        where = where.rpartition("/")[0]
    what = problem.strerror or str(problem)
    advice = "check its permissions (and `lsattr` for the immutable flag), then run again"
    return f"{where}: {what}; {advice}"


def wants_json(argv: Sequence[str]) -> bool:
    """``--format json`` anywhere on the command line (it may not have been parsed yet)."""
    pairs = zip(argv, argv[1:], strict=False)
    return "--format=json" in argv or any(a == "--format" and b == "json" for a, b in pairs)


def report_error(argv: Sequence[str], problem: MigrateError) -> int:
    """A MigrateError: its evidence (if any) on stderr, then its one line and its code."""
    if problem.detail:
        click.echo(problem.detail, err=True, nl=False)
    return report(argv, problem.format_message(), Exit(problem.exit_code))


def report(argv: Sequence[str], message: str, code: Exit) -> int:
    """One line on stderr (or one JSON object on stdout in json mode); the code."""
    if wants_json(argv):
        error = {"schema": "oauth-migrate/error/1", "error": message, "exit_code": int(code)}
        click.echo(json.dumps(error))
    else:
        click.echo(f"Error: {message}", err=True)
    return int(code)


@click.group(
    "migrate",
    cls=MigrateGroup,
    context_settings={"help_option_names": ["-h", "--help"]},
    epilog=EPILOG,
)
@click.version_option(__version__, prog_name="oauth-migrate")
def cli() -> None:
    """Move a legacy MCP server from opaque OAuth access tokens to RS256 JWTs.

    \b
    The phases, in order:
      migrate plan PATH       what apply would change (nothing is written)
      migrate apply PATH      hybrid: JWTs minted, both kinds of token accepted
      migrate status PATH     whether no opaque token can still be alive
      migrate finalize PATH   JWT only (irreversible for tokens in flight)
      migrate rollback PATH   undo the last apply or finalize, byte for byte
    """


def main() -> None:
    cli()
