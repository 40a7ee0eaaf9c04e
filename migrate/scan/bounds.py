"""Whether a file is safe to hand to libcst: bounds on size, nesting, node count and time.

libcst's native parser grows super-linearly on long operator chains (4000 ``a+a+...``
take 6 s, 20 000 run past a minute), overflows its stack on deep nesting (a 5000-deep list,
20 000 ``and``: SIGSEGV, the whole process dies), and its Python side (code generation,
visitors, positions) raises RecursionError past about 350 levels. Python's own parser
refuses such input with an exception instead, so each file is first parsed by
``compile(..., PyCF_ONLY_AST)`` and its nesting measured iteratively. Only a file Python
cannot parse (newer syntax, or a syntax error) is parsed by libcst in a child process
with a timeout; the common case stays in-process.

The bounds, measured on 2918 real modules (this kit's virtualenv: mypy, pydantic,
libcst, pygments, ...): nesting at most 63 (99.9 % at most 41), at most 36 000 syntax
nodes and 587 KB (libcst's generated matchers, 14 s to parse and locate). A 1 MB module
of plain functions took `migrate plan` 30 s and 844 MB; 1 MB of 200-term chains 131 s and
2.6 GB. Nothing here changes a file: it only decides whether to read one.
"""

from __future__ import annotations

import ast
import io
import json
import re
import subprocess
import sys
import tokenize
from pathlib import Path
from typing import cast

MAX_BYTES = 1_000_000
MAX_DEPTH = 200  # three times the deepest real module seen, below libcst's ~350
MAX_NODES = 100_000  # nearly three times the largest real module seen (36 000)
PARSE_TIMEOUT = 30.0  # seconds, for the rare file parsed in a child process

# Python's parser limits: valid syntax, but past what CPython (or libcst) can take.
_PYTHON_LIMITS = ("too many nested parentheses", "too many levels of indentation")
_LIBCST_PREFIX = re.compile(r"^parser error: error at \d+:\d+: ")


_KIT = str(Path(__file__).resolve().parents[2])
_CHILD = (
    f"import sys; sys.path.insert(0, {_KIT!r}); "
    "from migrate.scan.bounds import parse_in_child; parse_in_child()"
)


class BadSyntax(Exception):
    """libcst cannot parse the file: a real syntax error, at ``line``."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message


def refusal(text: str, size: int) -> str | None:
    """Why ``text`` (``size`` bytes on disk) must not be parsed by libcst, or None.

    Raises BadSyntax for a file libcst cannot parse at all."""
    if size > MAX_BYTES:
        return f"{size} bytes, past the bound of {MAX_BYTES} bytes: not parsed"
    try:
        tree = compile(text, "<scan>", "exec", ast.PyCF_ONLY_AST, dont_inherit=True)
    except (RecursionError, MemoryError):
        return "nested too deep for Python's own parser: not parsed"
    except SyntaxError as problem:
        message = str(problem.msg)
        if any(limit in message for limit in _PYTHON_LIMITS):
            return f"line {problem.lineno}: {message} (Python's own limit): not parsed"
        return isolated_refusal(text)
    except ValueError:  # a NUL byte
        return "holds a NUL byte: not Python source, not parsed"
    return shape_refusal(*measure(tree, text))


def shape_refusal(depth: int, nodes: int) -> str | None:
    if depth > MAX_DEPTH:  # the walk stops there: the true depth may be far larger
        return f"nested deeper than the bound of {MAX_DEPTH} levels: not parsed"
    if nodes > MAX_NODES:
        return f"{nodes} syntax nodes, past the bound of {MAX_NODES}: not parsed"
    return None


def measure(tree: ast.AST, text: str) -> tuple[int, int]:
    """(nesting depth as libcst builds it, node count), walked without recursion.

    Written for speed (it runs on every file a finder parses): fields are read directly,
    and expression contexts (``Load``/``Store``, which libcst has no node for) skipped."""
    lines: list[str] = []
    depth = nodes = 0
    stack: list[tuple[ast.AST, int]] = [(tree, 1)]
    pop, push = stack.pop, stack.append
    while stack:
        node, level = pop()
        nodes += 1
        kind = type(node)
        # libcst nests what Python keeps flat: ``a and b and c`` and "a" "b" "c".
        if kind is ast.BoolOp:
            level += len(cast(ast.BoolOp, node).values) - 2
        elif (kind is ast.Constant or kind is ast.JoinedStr) and _long(
            literal := cast(ast.Constant | ast.JoinedStr, node), MAX_DEPTH - level
        ):
            # Only \n, \r\n and \r end a line for the parser (str.splitlines also
            # splits at form feeds and others).
            lines = lines or io.StringIO(text, newline="").readlines()
            level += _string_parts(literal, lines) - 1
        if level > depth:
            depth = level
            if depth > MAX_DEPTH:
                break  # refused anyway; the rest need not be walked
        level += 1
        for name in node._fields:
            value = getattr(node, name, None)
            if type(value) is list:
                stack.extend((item, level) for item in value if isinstance(item, ast.AST))
            elif isinstance(value, ast.AST) and not isinstance(value, ast.expr_context):
                push((value, level))
    return depth, nodes


def _long(node: ast.Constant | ast.JoinedStr, budget: int) -> bool:
    """Whether the literal's span could hold more adjacent strings than ``budget``."""
    if isinstance(node, ast.Constant) and not isinstance(node.value, str | bytes):
        return False
    if node.end_lineno != node.lineno or node.end_col_offset is None:
        return True
    return (node.end_col_offset - node.col_offset) // 2 > budget  # each part is 2+ bytes


def _string_parts(node: ast.Constant | ast.JoinedStr, lines: list[str]) -> int:
    """How many adjacent string literals make up ``node`` (libcst nests one per part)."""
    first, last = node.lineno - 1, (node.end_lineno or node.lineno) - 1
    chunk = [line.encode("utf-8") for line in lines[first : last + 1]]
    chunk[-1] = chunk[-1][: node.end_col_offset]
    chunk[0] = chunk[0][node.col_offset :]
    segment = "(" + b"".join(chunk).decode("utf-8", "replace") + ")"
    try:
        tokens = tokenize.generate_tokens(io.StringIO(segment).readline)
        return sum(1 for token in tokens if token.type == tokenize.STRING)
    except (tokenize.TokenError, SyntaxError):
        return len(segment) // 2  # cannot tell: assume the worst


def isolated_refusal(text: str) -> str | None:
    """Parse with libcst in a child process, under a timeout; raise BadSyntax for a
    syntax error. Used only for files Python itself cannot parse."""
    try:
        child = subprocess.run(
            # -I: no current folder on sys.path, so a `migrate` package in the scanned
            # tree is never imported; the kit is imported from where this file is.
            [sys.executable, "-I", "-c", _CHILD],
            input=text.encode("utf-8", "surrogateescape"),
            capture_output=True,
            timeout=PARSE_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return f"libcst's parser ran past {PARSE_TIMEOUT:g} seconds: not parsed"
    if child.returncode != 0:
        return f"libcst's parser crashed on it (exit {child.returncode}): not parsed"
    answer = json.loads(child.stdout)
    if "error" in answer:
        raise BadSyntax(int(answer["line"]), str(answer["error"]))
    return shape_refusal(int(answer["depth"]), int(answer["nodes"]))


def libcst_message(message: str) -> str:
    """libcst's message without its own "error at L:C" prefix (the line is given apart)."""
    return _LIBCST_PREFIX.sub("", message).strip()


def parse_in_child() -> None:
    """Child side of :func:`isolated_refusal`: parse stdin, print depth and nodes as JSON."""
    import libcst as cst

    from migrate.scan.source import children

    text = sys.stdin.buffer.read().decode("utf-8", "surrogateescape")
    try:
        module = cst.parse_module(text)
    except cst.ParserSyntaxError as problem:
        print(json.dumps({"error": libcst_message(problem.message), "line": problem.raw_line}))
        return
    depth = nodes = 0
    stack: list[tuple[cst.CSTNode, int]] = [(module, 1)]
    while stack:
        node, level = stack.pop()
        nodes += 1
        depth = max(depth, level)
        stack.extend((child, level + 1) for child in children(node))
    print(json.dumps({"depth": depth, "nodes": nodes}))
