"""The target tree: its Python files read once as text, parsed only when a finder asks.

Parsing is the slow part (libcst reads about 14k lines/s here), so finders first match
cheap text markers and parse only the files that carry them. Each parsed module keeps
its position metadata so findings can name ``file:line``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import libcst as cst
from libcst.metadata import CodeRange, MetadataWrapper, PositionProvider

# Folders no server code lives in; the kit's own emitted package is skipped too.
SKIPPED_DIRS = frozenset(
    {
        ".git", ".hg", ".svn", ".venv", "venv", "env", ".env", "node_modules", "__pycache__",
        "site-packages", "build", "dist", ".tox", ".nox", ".mypy_cache", ".ruff_cache",
        ".pytest_cache", ".oauth-migration", "oauth_migration", "tests", "test",
    }
)  # fmt: skip


def is_test_file(name: str) -> bool:
    """Tests mint and send tokens too; they are not the server's code."""
    return name.startswith("test_") or name.endswith("_test.py") or name == "conftest.py"


class ParseFailure(Exception):
    """A file that libcst cannot parse: reported as a finding, never a traceback."""

    def __init__(self, rel: str, detail: str) -> None:
        super().__init__(f"{rel}: cannot parse ({detail})")
        self.rel = rel


@dataclass
class SourceFile:
    root: Path
    rel: str
    text: str
    _wrapper: MetadataWrapper | None = field(default=None, repr=False)
    _positions: dict[cst.CSTNode, CodeRange] | None = field(default=None, repr=False)
    _parents: dict[cst.CSTNode, cst.CSTNode] | None = field(default=None, repr=False)

    @property
    def path(self) -> Path:
        return self.root / self.rel

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()

    @property
    def module(self) -> cst.Module:
        module = self._wrapped().module
        if self._parents is None:
            self._parents = index_tree(module)
        return module

    def _wrapped(self) -> MetadataWrapper:
        if self._wrapper is None:
            try:
                module = cst.parse_module(self.text)
            except cst.ParserSyntaxError as exc:
                raise ParseFailure(self.rel, f"line {exc.raw_line}: {exc.message}") from None
            # No copy: findings hold nodes of this very tree, which codemods then replace.
            self._wrapper = MetadataWrapper(module, unsafe_skip_copy=True)
        return self._wrapper

    @property
    def parsed(self) -> bool:
        """Whether a finder needed this file's tree (the plan then depends on its text)."""
        return self._wrapper is not None

    def line(self, node: cst.CSTNode) -> int:
        # Positions are resolved only for files that hold a finding: it costs a full pass.
        if self._positions is None:
            self._positions = dict(self._wrapped().resolve(PositionProvider))
        return self._positions[node].start.line

    def parent(self, node: cst.CSTNode) -> cst.CSTNode | None:
        if self._parents is None:
            self._parents = index_tree(self.module)
        return self._parents.get(node)

    def order(self, node: cst.CSTNode) -> int:
        """The node's rank in source order (cheaper than its line, same comparisons)."""
        if self._parents is None:
            self._parents = index_tree(self.module)
        return _INDEX[id(node)][2]

    def where(self, node: cst.CSTNode) -> str:
        return f"{self.rel}:{self.line(node)}"

    def code(self, node: cst.CSTNode) -> str:
        return self.module.code_for_node(node)


# id(node) -> (node, preorder list of its module, its index there, end of its subtree).
# Filled once per parsed module, so walking a subtree or finding a parent is a lookup
# instead of a libcst traversal; the node itself is kept to rule out reused ids.
_INDEX: dict[int, tuple[cst.CSTNode, list[cst.CSTNode], int, int]] = {}


_NODE_FIELDS: dict[type, tuple[str, ...]] = {}
_IS_NODE: dict[type, bool] = {}


# Layout fields (whitespace, parentheses, commas, colons) hold no code the finders read;
# skipping them halves the nodes indexed.
_LAYOUT_FIELDS = frozenset(
    {"lpar", "rpar", "comma", "semicolon", "leading_lines", "lines_after_decorators",
     "header", "footer", "colon", "equal", "dot", "star", "newline", "lbracket", "rbracket",
     "lbrace", "rbrace", "first_line", "empty_lines", "indent", "trailing_whitespace"}
)  # fmt: skip


def _child_fields(kind: type) -> tuple[str, ...]:
    names = _NODE_FIELDS.get(kind)
    if names is None:
        names = _NODE_FIELDS[kind] = tuple(
            f.name
            for f in dataclasses.fields(kind)
            if f.name not in _LAYOUT_FIELDS and "whitespace" not in f.name
        )
    return names


def _is_node(value: object) -> bool:
    # isinstance against libcst's abstract base costs an ABC check each time; cache by type.
    kind = type(value)
    known = _IS_NODE.get(kind)
    if known is None:
        known = _IS_NODE[kind] = isinstance(value, cst.CSTNode)
    return known


def children(node: cst.CSTNode) -> list[cst.CSTNode]:
    """The node's children. Reading the dataclass fields directly is many times faster
    than libcst's ``children`` (which runs its visitor machinery); sequences keep their
    source order, which is all the finders rely on."""
    found: list[cst.CSTNode] = []
    for name in _child_fields(type(node)):
        value = getattr(node, name)
        if type(value) is tuple or type(value) is list:
            found.extend(v for v in value if _is_node(v))
        elif _is_node(value):
            found.append(value)
    return found


def index_tree(module: cst.Module) -> dict[cst.CSTNode, cst.CSTNode]:
    """One pass over ``module``: parents, and the preorder that :func:`indexed_walk` slices."""
    order: list[cst.CSTNode] = []
    parents: dict[cst.CSTNode, cst.CSTNode] = {}
    # (node, -1) to enter a node; (node, start) to close it once its subtree is listed.
    stack: list[tuple[cst.CSTNode, int]] = [(module, -1)]
    while stack:
        node, start = stack.pop()
        if start >= 0:
            _INDEX[id(node)] = (node, order, start, len(order))
            continue
        stack.append((node, len(order)))
        order.append(node)
        for child in reversed(children(node)):
            parents[child] = node
            stack.append((child, -1))
    return parents


def indexed_walk(node: cst.CSTNode) -> list[cst.CSTNode] | None:
    """The subtree of an indexed node in source order, or None for other nodes."""
    entry = _INDEX.get(id(node))
    if entry is None or entry[0] is not node:
        return None
    _, order, start, end = entry
    return order[start:end]


class SourceTree:
    """Every ``.py`` file under ``root`` (skipping virtualenvs, caches and VCS folders)."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self.files: dict[str, SourceFile] = {}
        self.unreadable: list[str] = []
        for path in self._walk():
            rel = path.relative_to(self.root).as_posix()
            try:
                text = path.read_bytes().decode("utf-8")
            except (OSError, UnicodeDecodeError):
                self.unreadable.append(rel)
                continue
            self.files[rel] = SourceFile(self.root, rel, text)

    def _walk(self) -> Iterator[Path]:
        for folder, dirs, names in os.walk(self.root):
            dirs[:] = sorted(
                d for d in dirs if d not in SKIPPED_DIRS and not d.endswith(".egg-info")
            )
            for name in sorted(names):
                if name.endswith(".py") and not is_test_file(name):
                    yield Path(folder) / name

    def with_text(self, *markers: str) -> Iterator[SourceFile]:
        """Files whose text holds any of ``markers``: the only ones worth parsing."""
        for source in self.files.values():
            if any(marker in source.text for marker in markers):
                yield source
