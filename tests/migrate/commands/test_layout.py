"""The shape of migrate/commands/: one module per command, each mirrored by a test
module, each thin (no command translates an error by hand)."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import click
import pytest

from migrate.cli import COMMANDS, command_module

ROOT = Path(__file__).resolve().parents[3]
COMMANDS_DIR = ROOT / "migrate" / "commands"
TESTS_DIR = Path(__file__).resolve().parent


def command_modules() -> list[str]:
    return sorted(p.stem for p in COMMANDS_DIR.glob("*.py") if not p.stem.startswith("_"))


def test_every_command_is_one_module() -> None:
    """The modules of migrate/commands/ are exactly the group's commands."""
    assert command_modules() == sorted(COMMANDS)


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_command_module_holds_its_command(name: str) -> None:
    """`migrate.commands.<name>` defines the click command the group lists."""
    command = getattr(importlib.import_module(command_module(name)), COMMANDS[name].attr)
    assert isinstance(command, click.Command)
    assert command.name == name


@pytest.mark.parametrize("name", command_modules())
def test_every_command_module_has_a_mirrored_test_module(name: str) -> None:
    """tests/migrate/commands/test_<name>.py exists and holds at least one test."""
    test_module = TESTS_DIR / f"test_{name}.py"
    assert test_module.is_file(), f"{test_module} is missing"
    tree = ast.parse(test_module.read_text(encoding="utf-8"))
    tests = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name.startswith("test")]
    assert tests, f"{test_module} has no test"


@pytest.mark.parametrize("name", command_modules())
def test_no_command_catches_an_error(name: str) -> None:
    """No try/except in a command: errors carry their code, and cli.run renders them."""
    path = COMMANDS_DIR / f"{name}.py"
    tree = ast.parse(path.read_text(encoding="utf-8"))
    handlers = [n.lineno for n in ast.walk(tree) if isinstance(n, ast.Try)]
    assert handlers == [], f"{path.name}: try at line(s) {handlers}"
