"""The target tree: its Python files read once as text, parsed only when a finder asks.

Parsing is the slow part (libcst reads about 14k lines/s here), so finders first match
cheap text markers and parse only the files that carry them. Each parsed module keeps
its position metadata so findings can name ``file:line``.

Files are read in their declared encoding (PEP 263), and a file libcst could not parse
safely (see :mod:`migrate.scan.bounds`) or that cannot be decoded is set aside in
``SourceTree.unreadable`` with its reason instead of being parsed: the planners report it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import os
import shlex
import tokenize
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from pathlib import Path, PurePosixPath

import libcst as cst
from libcst.metadata import CodeRange, MetadataWrapper, PositionProvider

from migrate.scan import bounds

# Folders no server code lives in, whatever else they hold: VCS data, tool caches, and
# the kit's own state and emitted package. Virtualenvs are recognised by their pyvenv.cfg
# (or conda-meta), not by a name: a real package may be called env, build, dist or test.
SKIPPED_DIRS = frozenset(
    {
        ".git", ".hg", ".svn", "node_modules", "__pycache__", "site-packages", ".tox",
        ".nox", ".mypy_cache", ".ruff_cache", ".pytest_cache", ".oauth-migration",
        "oauth_migration", "tests",
    }
)  # fmt: skip

# Text the mint, gate and metadata finders look for (minting.py, gates.py, metadata.py),
# and the runtime's own calls: a file holding one that cannot be read could hide a piece
# the migration must change, so it blocks apply instead of being skipped silently.
DECISIVE_MARKERS = (
    "token_urlsafe", "token_hex", "token_bytes", "urandom", "uuid4", "uuid1",
    "earer", "uthorization", ".credentials", "authorization_endpoint", "token_endpoint",
    "oauth_migration",
)  # fmt: skip


def installed_entries(folder: Path) -> frozenset[str]:
    """Names directly in ``folder`` that an installed distribution put there.

    A folder holding ``*.dist-info`` is an install target (a site-packages, copied or
    not, or ``pip install --target``): each wheel's RECORD lists the files it installed
    (PEP 376/627), so the packages and modules it names are library code, whatever they
    are called; anything the RECORDs do not list is still scanned."""
    names: set[str] = set()
    try:
        records = [d / "RECORD" for d in folder.iterdir() if d.name.endswith(".dist-info")]
    except OSError:
        return frozenset()
    for record in records:
        try:
            lines = record.read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError:
            continue
        for line in lines:
            head = line.split(",", 1)[0].replace("\\", "/").split("/", 1)[0]
            if head and head not in (".", ".."):
                names.add(head)
    return frozenset(names)


def _skipped_dir(folder: Path, name: str) -> bool:
    if name in SKIPPED_DIRS or name.endswith(".egg-info"):
        return True
    path = folder / name
    if (path / "pyvenv.cfg").is_file() or (path / "conda-meta").is_dir():
        return True  # a virtualenv or conda environment
    if name.endswith(".dist-info"):
        return True
    # setuptools' output (build/lib/<copy of the package>) would duplicate every finding.
    return (
        name == "build"
        and not (path / "__init__.py").exists()
        and ((path / "lib").is_dir() or any(path.glob("bdist.*")))
    )


def excluded(rel: str, patterns: Iterable[str]) -> bool:
    """Whether ``--exclude`` patterns match the relative path, its name or a folder above."""
    path = PurePosixPath(rel)
    candidates = [rel, path.name, *(p.as_posix() for p in path.parents if p.parts)]
    cleaned = [pattern.removeprefix("./").rstrip("/") for pattern in patterns]
    return any(fnmatchcase(c, pattern) for pattern in cleaned for c in candidates)


def decode_source(raw: bytes) -> tuple[str, str]:
    """(text, encoding) of a Python source, as PEP 263 declares it (UTF-8 by default).

    Raises SyntaxError (bad cookie), LookupError or UnicodeDecodeError."""
    encoding, _ = tokenize.detect_encoding(io.BytesIO(raw).readline)
    if encoding == "utf-8-sig":
        encoding = "utf-8"  # the BOM stays in the text, so it is written back as it was
    return raw.decode(encoding), encoding


@dataclass(frozen=True)
class Unreadable:
    """A file the scan could not read or parse safely, and why."""

    rel: str
    reason: str
    # It holds a marker of a mint, gate or metadata: what it hides may matter.
    sensitive: bool


def is_test_file(name: str) -> bool:
    """Tests mint and send tokens too; they are not the server's code."""
    return name.startswith("test_") or name.endswith("_test.py") or name == "conftest.py"


class ParseFailure(Exception):
    """A file that libcst cannot parse: one line naming it, never a traceback."""

    def __init__(self, rel: str, line: int, detail: str) -> None:
        super().__init__(
            f"{rel}:{line}: cannot parse ({detail}); fix it, or leave it out of the scan "
            f"with --exclude {shlex.quote(rel)}, then plan again"
        )
        self.rel = rel


@dataclass
class SourceFile:
    root: Path
    rel: str
    text: str
    encoding: str = "utf-8"  # as declared (PEP 263): changes are written back in it
    size: int = -1  # bytes on disk (-1: the text's UTF-8 length)
    _refusal: str | None = field(default=None, repr=False)
    _checked: bool = field(default=False, repr=False)
    _syntax: ParseFailure | None = field(default=None, repr=False)
    _wrapper: MetadataWrapper | None = field(default=None, repr=False)
    _positions: dict[cst.CSTNode, CodeRange] | None = field(default=None, repr=False)
    _parents: dict[cst.CSTNode, cst.CSTNode] | None = field(default=None, repr=False)

    @property
    def path(self) -> Path:
        return self.root / self.rel

    def __del__(self) -> None:
        # The node index is module-wide (walks need no file handle); a file that goes
        # takes its entries with it, so a long-lived process does not keep every tree.
        if self._parents is not None:
            forget_index([*self._parents, *self._parents.values()])

    @property
    def sha256(self) -> str:
        """Of the file's bytes as on disk (its text in its own encoding)."""
        return hashlib.sha256(self.text.encode(self.encoding)).hexdigest()

    def refusal(self) -> str | None:
        """Why libcst must not parse this file (see :mod:`migrate.scan.bounds`), or None.

        Raises ParseFailure for a syntax error. Checked once."""
        if not self._checked:
            size = self.size if self.size >= 0 else len(self.text.encode("utf-8"))
            try:
                self._refusal = bounds.refusal(self.text, size)
            except bounds.BadSyntax as problem:
                self._syntax = ParseFailure(self.rel, problem.line, problem.message)
            self._checked = True
        if self._syntax is not None:
            raise self._syntax
        return self._refusal

    @property
    def module(self) -> cst.Module:
        module = self._wrapped().module
        if self._parents is None:
            self._parents = index_tree(module)
        return module

    def _wrapped(self) -> MetadataWrapper:
        if self._wrapper is None:
            refused = self.refusal()
            if refused is not None:  # SourceTree.with_text yields no such file
                raise ParseFailure(self.rel, 1, refused)
            try:
                module = cst.parse_module(self.text)
            except cst.ParserSyntaxError as exc:
                detail = bounds.libcst_message(exc.message)
                raise ParseFailure(self.rel, exc.raw_line, detail) from None
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

    def lines(self, node: cst.CSTNode) -> range:
        """The lines ``node`` spans, first to last."""
        self.line(node)
        assert self._positions is not None
        span = self._positions[node]
        return range(span.start.line, span.end.line + 1)

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


def forget_index(nodes: Iterable[cst.CSTNode]) -> None:
    """Drop the index entries of ``nodes`` (those of one parsed module)."""
    for node in nodes:
        entry = _INDEX.get(id(node))
        if entry is not None and entry[0] is node:
            del _INDEX[id(node)]


def indexed_walk(node: cst.CSTNode) -> list[cst.CSTNode] | None:
    """The subtree of an indexed node in source order, or None for other nodes."""
    entry = _INDEX.get(id(node))
    if entry is None or entry[0] is not node:
        return None
    _, order, start, end = entry
    return order[start:end]


class SourceTree:
    """Every ``.py`` file under ``root`` (skipping virtualenvs, caches, VCS folders and
    what ``exclude`` patterns match)."""

    def __init__(self, root: Path, exclude: Iterable[str] = ()) -> None:
        self.root = root.resolve()
        self.exclude = tuple(exclude)
        self.files: dict[str, SourceFile] = {}
        self.unreadable: dict[str, Unreadable] = {}
        for path in self._walk():
            rel = path.relative_to(self.root).as_posix()
            try:
                raw = path.read_bytes()
                text, encoding = decode_source(raw)
            except OSError as problem:
                self._set_aside(rel, f"cannot be read ({problem.strerror})", b"")
                continue
            except (SyntaxError, LookupError, UnicodeDecodeError) as problem:
                self._set_aside(rel, _decode_reason(problem), raw)
                continue
            self.files[rel] = SourceFile(self.root, rel, text, encoding, len(raw))

    def _set_aside(self, rel: str, reason: str, raw: bytes) -> None:
        sensitive = any(marker.encode("ascii") in raw for marker in DECISIVE_MARKERS)
        self.unreadable[rel] = Unreadable(rel, reason, sensitive)

    def _walk(self) -> Iterator[Path]:
        for folder, dirs, names in os.walk(self.root):
            here = Path(folder)
            installed = (
                installed_entries(here) if any(d.endswith(".dist-info") for d in dirs) else ()
            )
            dirs[:] = sorted(
                d
                for d in dirs
                if not _skipped_dir(here, d) and d not in installed and not self._excluded(here / d)
            )
            for name in sorted(set(names) - set(installed)):
                path = here / name
                if name.endswith(".py") and not is_test_file(name) and not self._excluded(path):
                    yield path

    def _excluded(self, path: Path) -> bool:
        return bool(self.exclude) and excluded(path.relative_to(self.root).as_posix(), self.exclude)

    def with_text(self, *markers: str) -> Iterator[SourceFile]:
        """Files whose text holds any of ``markers``: the only ones worth parsing.

        A file libcst could not parse safely is set aside (``unreadable``), not yielded."""
        for rel, source in self.files.items():
            if any(marker in source.text for marker in markers):
                refused = source.refusal()
                if refused is None:
                    yield source
                elif rel not in self.unreadable:
                    raw = source.text.encode(source.encoding, "replace")
                    self._set_aside(rel, refused, raw)


def _decode_reason(problem: Exception) -> str:
    if isinstance(problem, UnicodeDecodeError):
        return (
            f"not valid {problem.encoding} (byte 0x{problem.object[problem.start]:02x} at "
            f"offset {problem.start}): declare its encoding (PEP 263) or --exclude it"
        )
    if "invalid or missing encoding declaration" in str(problem):
        return (
            "not valid utf-8, and no coding line (PEP 263) declares another encoding: "
            "declare it or --exclude it"
        )
    return f"cannot be decoded ({problem}): fix its coding line or --exclude it"
