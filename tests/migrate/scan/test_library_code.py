"""#12 item 10: library code in the tree (installed distributions) is no server code."""

from __future__ import annotations

import shutil
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

from migrate.scan.source import SourceTree
from tests.migrate.tree_support import REPO_ROOT

MINT = """import secrets

TOKENS = {}


def token(user_id, client_id, scope):
    access_token = secrets.token_urlsafe(32)
    TOKENS[access_token] = {"user_id": user_id, "client_id": client_id, "scope": scope}
    return {"access_token": access_token, "token_type": "Bearer"}
"""


def _installed(target: Path, package: str, files: dict[str, str]) -> None:
    """``package`` as pip installs it into ``target``: its files and a dist-info RECORD."""
    info = target / f"{package}-1.0.dist-info"
    info.mkdir(parents=True)
    record = []
    for rel, text in files.items():
        path = target / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        record.append(f"{rel},sha256=x,{len(text)}")
    (info / "RECORD").write_text("\n".join(record) + "\n", encoding="utf-8")


def test_packages_a_record_lists_are_not_scanned(tmp_path: Path) -> None:
    """A vendored install (``pip install --target vendor``) is skipped by what its RECORD
    lists, whatever its folder is called; the project's own code beside it is read."""
    _installed(tmp_path / "third_party", "authkit", {"authkit/server.py": MINT})
    _installed(tmp_path, "helper", {"helper_mod.py": MINT})
    (tmp_path / "app.py").write_text(MINT, encoding="utf-8")
    (tmp_path / "third_party" / "local_patch.py").write_text("X = 1\n", encoding="utf-8")
    assert sorted(SourceTree(tmp_path).files) == ["app.py", "third_party/local_patch.py"]


def test_a_project_egg_info_hides_nothing(tmp_path: Path) -> None:
    """``pip install -e .`` leaves ``<name>.egg-info`` in the project: its code stays read."""
    (tmp_path / "svc.egg-info").mkdir()
    (tmp_path / "svc.egg-info" / "SOURCES.txt").write_text("svc/app.py\n", encoding="utf-8")
    (tmp_path / "svc").mkdir()
    (tmp_path / "svc" / "app.py").write_text(MINT, encoding="utf-8")
    assert list(SourceTree(tmp_path).files) == ["svc/app.py"]


def test_plan_over_a_copy_of_site_packages_has_no_step(tmp_path: Path) -> None:
    """`migrate plan` over a copy of the test venv's site-packages (mcp, fastapi,
    starlette, authlib-like code) exits 0 with no step, finding and manual step, quickly."""
    site = Path(sysconfig.get_paths()["purelib"])
    copy = tmp_path / "site-packages-copy"
    shutil.copytree(site, copy, ignore=shutil.ignore_patterns("__pycache__"), symlinks=True)
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "migrate", "plan", "--format", "json", str(copy)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    elapsed = time.monotonic() - started
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert '"steps": []' in result.stdout and '"manual": []' in result.stdout
    assert '"findings": []' in result.stdout
    assert elapsed < 120, f"plan took {elapsed:.0f} s over {copy}"
