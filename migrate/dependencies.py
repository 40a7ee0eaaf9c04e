"""Add the runtime's dependencies to the target's requirements.txt or pyproject.toml.

requirements.txt gets the missing lines appended. pyproject.toml gets them inserted at
the top of ``[project] dependencies``; the result is parsed again and must hold exactly
the old list plus the new entries, otherwise the change is refused (a manual step).
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from migrate import emit

_NAME = re.compile(r"^\s*([A-Za-z0-9_.-]+)")


def _name(requirement: str) -> str:
    found = _NAME.match(requirement)
    return found.group(1).lower().replace("_", "-") if found else requirement.lower()


def _missing(present: list[str]) -> list[str]:
    names = {_name(r) for r in present}
    return [r for r in emit.RUNTIME_REQUIREMENTS if _name(r) not in names]


def requirements_txt(text: str) -> str:
    lines = [line.split("#")[0].strip() for line in text.splitlines()]
    missing = _missing([line for line in lines if line and not line.startswith("-")])
    if not missing:
        return text
    base = text if text.endswith("\n") or not text else text + "\n"
    return base + "# oauth-migrate runtime\n" + "".join(f"{r}\n" for r in missing)


def pyproject_toml(text: str) -> str | None:
    """The file with the dependencies added, the same text if none is missing, or None
    when ``[project] dependencies`` is absent or not a plain list the kit can extend."""
    try:
        before = tomllib.loads(text).get("project", {}).get("dependencies")
    except tomllib.TOMLDecodeError:
        return None
    if not isinstance(before, list):
        return None
    missing = _missing([str(d) for d in before])
    if not missing:
        return text
    opening = re.search(r"^dependencies\s*=\s*\[", text, re.MULTILINE)
    if opening is None:
        return None
    added = "".join(f'\n    "{r}",' for r in missing)
    after = text[: opening.end()] + added + text[opening.end() :]
    try:
        now = tomllib.loads(after).get("project", {}).get("dependencies")
    except tomllib.TOMLDecodeError:
        return None
    return after if now == [*missing, *before] else None


def dependency_file(root: Path) -> tuple[str, str, str] | None:
    """(file name, text before, text after) for the first file the kit can extend."""
    for name, extend in (
        ("requirements.txt", requirements_txt),
        ("pyproject.toml", pyproject_toml),
    ):
        path = root / name
        if path.is_file():
            text = path.read_bytes().decode("utf-8")
            after = extend(text)
            if after is not None:
                return name, text, after
    return None
