"""The error classes and their exit codes: one meaning per code, the README's table
equal to the classes, foreign errors adopted in one place."""

from __future__ import annotations

import inspect
import json
import re
from pathlib import Path

import click
import pytest

import migrate.errors
import migrate.journal
from migrate.cli import run
from migrate.errors import FOREIGN, MigrateError, adopt
from migrate.exit_codes import Exit

README = Path(__file__).resolve().parents[2] / "README.md"
ROW = re.compile(r"^\| (\d+) \| (.+) \|$")


def error_classes() -> dict[str, type[MigrateError]]:
    """Every MigrateError class the kit defines (errors.py and the journal's)."""
    found: dict[str, type[MigrateError]] = {}
    for module in (migrate.errors, migrate.journal):
        for name, value in vars(module).items():
            if inspect.isclass(value) and issubclass(value, MigrateError):
                found[name] = value
    return found


def readme_rows() -> dict[int, set[str]]:
    """The README's `| code | raised as |` table: code -> the class names in its row."""
    text = README.read_text(encoding="utf-8")
    table = text.split("| code | raised as |", 1)[1].split("\n\n", 1)[0]
    rows: dict[int, set[str]] = {}
    for line in table.splitlines():
        match = ROW.match(line)
        if match is None:
            continue
        code = int(match.group(1))
        assert code not in rows, f"exit code {code} has two rows"
        rows[code] = set(re.findall(r"`(\w+)`", match.group(2)))
    return rows


def test_every_class_is_in_the_readme_row_of_its_code() -> None:
    """Each error class is listed, in the row of the code it carries."""
    rows = readme_rows()
    for name, kind in error_classes().items():
        assert name in rows.get(kind.exit_code, set()), f"{name} (exit {kind.exit_code})"


def test_the_readme_names_no_class_that_is_not_there() -> None:
    """No row names a class that does not exist or carries another code."""
    classes = error_classes()
    for code, names in readme_rows().items():
        for name in names:
            assert name in classes, name
            assert classes[name].exit_code == code, name


def test_every_code_a_class_carries_is_in_the_table_of_codes() -> None:
    """A class's code is one of the documented ones, and never 0, 2 or 130."""
    for kind in error_classes().values():
        assert Exit(kind.exit_code) not in (Exit.OK, Exit.PENDING, Exit.INTERRUPTED)


def test_the_code_is_on_the_class_not_the_instance() -> None:
    """An error takes only its message: no call site picks a number."""
    signature = inspect.signature(MigrateError.__init__)
    assert list(signature.parameters) == ["self", "message", "detail"]
    assert migrate.errors.DirtyTree("x").exit_code == Exit.DIRTY
    with pytest.raises(TypeError):
        migrate.errors.StalePlan("x", 4)  # type: ignore[misc]


def test_foreign_errors_are_adopted_with_their_message() -> None:
    """Every foreign class named in FOREIGN becomes its MigrateError, message kept."""
    import importlib

    for module_name, class_name, kind in FOREIGN:
        foreign = getattr(importlib.import_module(module_name), class_name)
        adopted = adopt(foreign("it went wrong"))
        assert type(adopted) is kind
        assert adopted.format_message() == "it went wrong"


def test_an_unexpected_error_is_not_adopted() -> None:
    """A bug stays a bug: adopt leaves any other exception alone."""
    assert adopt(ValueError("bug")) is None
    assert adopt(KeyError("bug")) is None


def test_detail_is_printed_before_the_error_line(capsys: pytest.CaptureFixture[str]) -> None:
    """The handler prints a refusal's evidence on stderr, then its one line, and the code."""

    @click.command("refuses")
    def refuses() -> None:
        raise migrate.errors.NotReady("not yet", detail="the evidence\n")

    code = run(click.Group(commands=[refuses]), ["refuses"], "migrate", None, {})
    assert code == Exit.NOT_READY
    assert capsys.readouterr().err == "the evidence\nError: not yet\n"


def test_json_mode_reports_the_class_code_as_json(capsys: pytest.CaptureFixture[str]) -> None:
    """With --format json the same error is one JSON object on stdout, with its code."""

    @click.command("refuses")
    @click.option("--format", "fmt")
    def refuses(fmt: str) -> None:
        raise migrate.errors.DirtyTree("uncommitted changes")

    group = click.Group(commands=[refuses])
    code = run(group, ["refuses", "--format", "json"], "migrate", None, {})
    assert code == Exit.DIRTY
    document = json.loads(capsys.readouterr().out)
    assert document == {
        "schema": "oauth-migrate/error/1",
        "error": "uncommitted changes",
        "exit_code": 3,
    }
