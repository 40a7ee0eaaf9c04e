"""The target tree: its Python files read once as text, parsed only when a finder asks.

Parsing is the slow part (libcst reads about 14k lines/s here), so finders first match
cheap text markers and parse only the files that carry them. Each parsed module keeps
its position metadata so findings can name ``file:line``.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import libcst as cst
from libcst.metadata import CodeRange, MetadataWrapper, ParentNodeProvider, PositionProvider

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
        return self._wrapped().module

    def _wrapped(self) -> MetadataWrapper:
        if self._wrapper is None:
            try:
                module = cst.parse_module(self.text)
            except cst.ParserSyntaxError as exc:
                raise ParseFailure(self.rel, f"line {exc.raw_line}: {exc.message}") from None
            # No copy: findings hold nodes of this very tree, which codemods then replace.
            self._wrapper = MetadataWrapper(module, unsafe_skip_copy=True)
        return self._wrapper

    def line(self, node: cst.CSTNode) -> int:
        if self._positions is None:
            self._positions = dict(self._wrapped().resolve(PositionProvider))
        return self._positions[node].start.line

    def parent(self, node: cst.CSTNode) -> cst.CSTNode | None:
        if self._parents is None:
            self._parents = dict(self._wrapped().resolve(ParentNodeProvider))
        return self._parents.get(node)

    def where(self, node: cst.CSTNode) -> str:
        return f"{self.rel}:{self.line(node)}"

    def code(self, node: cst.CSTNode) -> str:
        return self.module.code_for_node(node)


class SourceTree:
    """Every ``.py`` file under ``root`` (skipping virtualenvs, caches and VCS folders)."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self.files: dict[str, SourceFile] = {}
        self.unreadable: list[str] = []
        for path in self._walk():
            rel = path.relative_to(self.root).as_posix()
            try:
                text = path.read_text(encoding="utf-8")
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
