"""The small tree questions every finder asks: names, imports, scopes, literals."""

from __future__ import annotations

from pathlib import Path

import libcst as cst
import pytest

from migrate.scan.source import SourceTree
from migrate.scan.syntax import (
    assigned_names,
    dotted,
    enclosing_function,
    enclosing_statement,
    imported_names,
    names_in,
    parameters,
    qualified,
    string_value,
    walk,
)


@pytest.mark.parametrize(
    ("code", "expected"),
    [("a", "a"), ("a.b.c", "a.b.c"), ("a().b", None), ("a[0].b", None), ("'s'", None)],
)
def test_dotted_names_only_name_chains(code: str, expected: str | None) -> None:
    """A Name/Attribute chain is dotted; a call or subscript in the chain is not."""
    assert dotted(cst.parse_expression(code)) == expected


def test_imports_map_local_names_to_what_they_stand_for() -> None:
    """``import a.b``, ``import x as y``, ``from m import n as k``; a star import adds nothing."""
    module = cst.parse_module(
        "import os.path\nimport secrets as s\nfrom uuid import uuid4 as make\n"
        "from . import sibling\nfrom star import *\n"
    )
    assert imported_names(module) == {
        "os": "os", "s": "secrets", "make": "uuid.uuid4", "sibling": "sibling",
    }  # fmt: skip
    imports = imported_names(module)
    assert qualified(cst.parse_expression("s.token_hex"), imports) == "secrets.token_hex"
    assert qualified(cst.parse_expression("make"), imports) == "uuid.uuid4"


@pytest.mark.parametrize(
    ("code", "expected"),
    [("'a'", "a"), ("'a' 'b'", "ab"), ("b'a'", None), ("f'{x}'", None), ("x", None)],
)
def test_string_value_reads_plain_literals_only(code: str, expected: str | None) -> None:
    """Plain and implicitly joined strings have a value; bytes, f-strings and names do not."""
    assert string_value(cst.parse_expression(code)) == expected


def test_names_in_reads_heads_and_skips_keywords_and_lambdas() -> None:
    """``f(db=conn, key=row.id, fn=lambda q: q)`` reads f, conn and row."""
    assert names_in(cst.parse_expression("f(db=conn, key=row.id, fn=lambda q: q)")) == {
        "f", "conn", "row",
    }  # fmt: skip


@pytest.mark.parametrize(
    ("line", "expected"),
    [("a = 1", {"a"}), ("a, b = pair", {"a", "b"}), ("a: int = 1", {"a"}), ("a += 1", {"a"}),
     ("obj.attr = 1", set()), ("x[0] = 1", set()), ("print(a)", set())],
)  # fmt: skip
def test_assigned_names_are_plain_targets(line: str, expected: set[str]) -> None:
    """Names, tuples and annotated targets bind; attributes and subscripts do not."""
    assert assigned_names(cst.parse_statement(line)) == expected


def test_enclosing_scopes_and_parameters(tmp_path: Path) -> None:
    """A node's function and statement are found through the file's parent index."""
    (tmp_path / "m.py").write_text(
        "def outer(a, /, b, *, c):\n    if a:\n        value = b + c\n", encoding="utf-8"
    )
    source = SourceTree(tmp_path).files["m.py"]
    [plus] = [n for n in walk(source.module) if isinstance(n, cst.BinaryOperation)]
    function = enclosing_function(source, plus)
    assert function is not None and function.name.value == "outer"
    assert parameters(function) == ["a", "b", "c"]
    statement = enclosing_statement(source, plus)
    assert isinstance(statement, cst.SimpleStatementLine)
    assert enclosing_function(source, function) is None


def test_walk_visits_every_node_in_source_order() -> None:
    """walk yields the node itself first, then its descendants left to right."""
    names = [n.value for n in walk(cst.parse_expression("a + b * c")) if isinstance(n, cst.Name)]
    assert names == ["a", "b", "c"]
