"""Add the runtime's dependencies to the target's requirements.txt or pyproject.toml.

requirements.txt gets the missing lines appended. pyproject.toml gets them inserted at
the top of ``[project] dependencies``; the result is parsed again and must hold exactly
the old list plus the new entries, otherwise the change is refused (a manual step).

The ``redis`` client, needed only for a denylist shared by several hosts, is optional: a
commented line in requirements.txt, an extra ``redis`` in pyproject.toml's
``[project.optional-dependencies]`` (left out, not refused, where it cannot be added).
"""

from __future__ import annotations

import json
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
    optional = " ".join(emit.OPTIONAL_REQUIREMENTS)
    return (
        base
        + "# oauth-migrate runtime\n"
        + "".join(f"{r}\n" for r in missing)
        + f"# optional, for OAUTH_MIGRATE_REDIS_URL (several hosts): {optional}\n"
    )


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
        return with_optional_extra(text)
    opening = re.search(r"^dependencies\s*=\s*\[", text, re.MULTILINE)
    if opening is None:
        return None
    added = "".join(f'\n    "{r}",' for r in missing)
    after = text[: opening.end()] + added + text[opening.end() :]
    try:
        now = tomllib.loads(after).get("project", {}).get("dependencies")
    except tomllib.TOMLDecodeError:
        return None
    return with_optional_extra(after) if now == [*missing, *before] else None


def with_optional_extra(text: str) -> str:
    """``text`` with the ``redis`` extra in ``[project.optional-dependencies]``; the same
    text when it is there, ``redis`` is a dependency already, or it cannot be added safely
    (the result must parse to the old extras plus this one, all else unchanged)."""
    data = tomllib.loads(text)
    project = data.get("project", {})
    extras = project.get("optional-dependencies", {}) if isinstance(project, dict) else None
    if not isinstance(extras, dict) or emit.OPTIONAL_EXTRA in extras:
        return text
    listed = [str(d) for d in project.get("dependencies", [])]
    listed += [str(d) for group in extras.values() if isinstance(group, list) for d in group]
    wanted = {_name(r) for r in emit.OPTIONAL_REQUIREMENTS}
    if wanted & {_name(d) for d in listed}:
        return text
    line = f"{emit.OPTIONAL_EXTRA} = {json.dumps(list(emit.OPTIONAL_REQUIREMENTS))}\n"
    header = re.search(r"^\[project\.optional-dependencies\][ \t]*\n", text, re.MULTILINE)
    if header is not None:
        after = text[: header.end()] + line + text[header.end() :]
    else:
        base = text if text.endswith("\n") else text + "\n"
        note = "# oauth-migrate: a jti denylist shared by several hosts (OAUTH_MIGRATE_REDIS_URL)\n"
        after = base + "\n[project.optional-dependencies]\n" + note + line
    try:
        parsed = tomllib.loads(after)
    except tomllib.TOMLDecodeError:
        return text
    expected = {**extras, emit.OPTIONAL_EXTRA: list(emit.OPTIONAL_REQUIREMENTS)}
    rest_same = {k: v for k, v in parsed.get("project", {}).items() if k != "optional-dependencies"}
    kept = {k: v for k, v in project.items() if k != "optional-dependencies"}
    same = parsed.get("project", {}).get("optional-dependencies") == expected and rest_same == kept
    return after if same and _others_same(parsed, data) else text


def _others_same(parsed: dict[str, object], data: dict[str, object]) -> bool:
    return {k: v for k, v in parsed.items() if k != "project"} == {
        k: v for k, v in data.items() if k != "project"
    }


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
