"""tests/support/sdk_venvs.py: one cached venv per requirement set, a reason when pip fails."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.sdk_venvs import (
    COMPLETE,
    SdkVenvUnavailable,
    cache_root,
    requirement_set,
    sdk_python,
    venv_key,
)


def test_the_key_ignores_order_and_includes_the_runtime_dependencies() -> None:
    """Two spellings of one set share a venv; the runtime's own pins are always in it."""
    assert venv_key(["mcp==2.3.0", "uvicorn"]) == venv_key(["uvicorn", "mcp==2.3.0"])
    assert venv_key(["mcp==2.3.0"]) != venv_key(["mcp==1.30.0"])
    assert any(r.startswith("pyjwt") for r in requirement_set(["mcp==2.3.0"]))


def test_a_built_venv_is_reused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A venv with its completion marker is returned as it is, nothing rebuilt."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    folder = cache_root() / venv_key(["example==1.0"])
    folder.mkdir(parents=True)
    (folder / COMPLETE).write_text("example==1.0\n")
    assert sdk_python(["example==1.0"]) == folder / "bin" / "python"
    assert not (folder / "bin").exists()


def test_pip_failure_is_a_reason_and_leaves_no_marker(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A set pip refuses (here: a requirement it cannot parse, no index asked) raises with
    pip's words, and the half-built venv does not count as built."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    with pytest.raises(SdkVenvUnavailable, match="pip install"):
        sdk_python(["not a requirement ==="])
    assert not (cache_root() / venv_key(["not a requirement ==="]) / COMPLETE).exists()
