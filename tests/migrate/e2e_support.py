"""Helpers for the end-to-end tests: copy a server, run the kit on it, run pytest or the harness.

Everything here runs real subprocesses: ``python -m migrate`` for the kit, ``python -m
pytest`` for a server's own tests, ``python acceptance.py`` for the shared harness.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import stat
import subprocess
import sys
import xml.etree.ElementTree as ElementTree
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import jwt

from tests.migrate.tree_support import REPO_ROOT

# The folder beside the repository that holds legacy_zoo/ and harness/ (it may be absent).
SHARED_DIR = (REPO_ROOT / ".." / "shared").resolve()
FIXTURE_SERVERS = REPO_ROOT / "tests" / "fixtures" / "servers"

# Never copied: virtualenvs, caches, and the kit's own state of an earlier run.
COPY_IGNORE = shutil.ignore_patterns(
    ".venv",
    "venv",
    "__pycache__",
    "*.pyc",
    ".pytest_cache",
    ".ruff_cache",
    ".mypy_cache",
    ".oauth-migration",
)

MIGRATE_TIMEOUT = 180.0
PYTEST_TIMEOUT = 300.0


class CommandFailed(AssertionError):
    """A subprocess ended with an unexpected exit status; the message quotes its output."""


@dataclass(frozen=True)
class CommandResult:
    argv: list[str]
    cwd: Path
    returncode: int
    stdout: str
    stderr: str

    def describe(self, limit: int = 6000) -> str:
        out = self.stdout[-limit:]
        err = self.stderr[-limit:]
        return (
            f"$ {' '.join(self.argv)}  (cwd {self.cwd})\n"
            f"exit status {self.returncode}\n--- stdout\n{out}\n--- stderr\n{err}"
        )


def run_command(
    argv: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str] | None = None,
    timeout: float = PYTEST_TIMEOUT,
    expect: Sequence[int] | None = None,
) -> CommandResult:
    """Run ``argv`` to completion; raise CommandFailed unless its status is in ``expect``."""
    completed = subprocess.run(
        list(argv),
        cwd=cwd,
        env=dict(env) if env is not None else None,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    result = CommandResult(
        list(argv), cwd, completed.returncode, completed.stdout, completed.stderr
    )
    if expect is not None and result.returncode not in expect:
        raise CommandFailed(f"expected exit status in {list(expect)}:\n{result.describe()}")
    return result


def clean_env(overrides: Mapping[str, str | None] | None = None) -> dict[str, str]:
    """This process's environment without pytest's own variables, plus ``overrides``."""
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in ("PYTEST_ADDOPTS", "PYTEST_CURRENT_TEST", "PYTEST_PLUGINS")
    }
    for name, value in (overrides or {}).items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env


# -- copying a server ------------------------------------------------------------------


def copy_tree(source: Path, destination: Path) -> Path:
    """Copy ``source`` to a new ``destination``, writable even where the source is read-only."""
    shutil.copytree(source, destination, ignore=COPY_IGNORE, copy_function=shutil.copyfile)
    for folder, _, files in os.walk(destination):
        path = Path(folder)
        path.chmod(path.stat().st_mode | stat.S_IRWXU)
        for name in files:
            file = path / name
            file.chmod(file.stat().st_mode | stat.S_IRUSR | stat.S_IWUSR)
    return destination


# -- the kit ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Migration:
    plan: CommandResult
    apply: CommandResult


def run_migrate(*args: str, cwd: Path, expect: Sequence[int] | None = None) -> CommandResult:
    """``python -m migrate ARGS`` in a subprocess."""
    return run_command(
        [sys.executable, "-m", "migrate", *args],
        cwd=cwd,
        env=clean_env(),
        timeout=MIGRATE_TIMEOUT,
        expect=expect,
    )


def migrate_to_hybrid(root: Path, *, allow_dirty: bool = False) -> Migration:
    """``migrate plan ROOT`` (must exit 2: changes pending) then ``migrate apply ROOT --yes``."""
    plan = run_migrate("plan", str(root), cwd=root.parent, expect=[2])
    apply_args = ["apply", str(root), "--yes"]
    if allow_dirty:
        apply_args.append("--allow-dirty")
    applied = run_migrate(*apply_args, cwd=root.parent, expect=[0])
    return Migration(plan, applied)


# -- a server's own tests --------------------------------------------------------------


@dataclass
class PytestOutcome:
    """Per-test outcomes of one pytest run, read from its JUnit XML report."""

    run: CommandResult
    passed: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)  # test id -> failure text
    skipped: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return len(self.passed) + len(self.failed) + len(self.skipped)


def run_pytest(
    args: Sequence[str],
    *,
    cwd: Path,
    report: Path,
    env: Mapping[str, str | None] | None = None,
    python: str | Path = sys.executable,
) -> PytestOutcome:
    """``python -m pytest ARGS`` in a subprocess (``python``: the interpreter, e.g. a
    server's own venv); test ids are ``classname::name``."""
    argv = [str(python), "-m", "pytest", *args, "-q", "-p", "no:cacheprovider"]
    argv += ["-o", "junit_family=xunit2", f"--junitxml={report}"]
    run = run_command(argv, cwd=cwd, env=clean_env(env), expect=[0, 1])
    outcome = PytestOutcome(run)
    if not report.exists():
        raise CommandFailed(f"pytest wrote no report {report}:\n{run.describe()}")
    for case in ElementTree.parse(report).getroot().iter("testcase"):
        test_id = f"{case.get('classname', '')}::{case.get('name', '')}"
        problems = [child for child in case if child.tag in ("failure", "error")]
        if problems:
            outcome.failed[test_id] = "\n".join(
                (child.get("message") or "") + "\n" + (child.text or "") for child in problems
            )
        elif case.find("skipped") is not None:
            outcome.skipped.append(test_id)
        else:
            outcome.passed.append(test_id)
    return outcome


# -- the acceptance harness ------------------------------------------------------------


def harness_script() -> Path:
    return SHARED_DIR / "harness" / "acceptance.py"


def run_harness(*args: str, cwd: Path) -> CommandResult:
    """``python acceptance.py ARGS``: exit 0 (all passed) or 1 (a check failed) is fine here."""
    return run_command(
        [sys.executable, str(harness_script()), *args],
        cwd=cwd,
        env=clean_env(),
        timeout=PYTEST_TIMEOUT,
        expect=[0, 1],
    )


def failed_checks(report: Mapping[str, Any]) -> list[str]:
    """``id: message`` of every FAIL in a harness JSON report."""
    return [
        f"{check.get('id')}: {check.get('message')}"
        for check in report.get("checks", [])
        if str(check.get("status", "")).upper() == "FAIL"
    ]


def read_json(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


# -- JWTs ------------------------------------------------------------------------------


def jwt_header(token: str) -> dict[str, Any]:
    header: dict[str, Any] = jwt.get_unverified_header(token)
    return header


def jwt_claims(token: str) -> dict[str, Any]:
    """The payload, not verified (for asserting on claims; verification is separate)."""
    segment = token.split(".")[1]
    claims: dict[str, Any] = json.loads(
        base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    )
    return claims


def jwk_for(jwks: Mapping[str, Any], kid: str) -> dict[str, Any] | None:
    for key in jwks.get("keys", []):
        if isinstance(key, dict) and key.get("kid") == kid:
            return key
    return None


def verify_jwt(
    token: str, jwks: Mapping[str, Any], *, issuer: str, audience: str
) -> dict[str, Any]:
    """Verify with pyjwt, pinned to RS256, against the JWKS key the header's ``kid`` names."""
    kid = jwt_header(token).get("kid")
    key = jwk_for(jwks, str(kid))
    if key is None:
        raise AssertionError(f"kid {kid!r} is not in the JWKS {jwks}")
    public_key = jwt.PyJWK(key).key
    claims: dict[str, Any] = jwt.decode(
        token,
        public_key,
        algorithms=["RS256"],
        audience=audience,
        issuer=issuer,
        options={"require": ["exp", "iat", "iss", "aud", "sub"]},
    )
    return claims


def fetch_json(http: httpx.Client, url: str) -> dict[str, Any]:
    response = http.get(url)
    if response.status_code != 200:
        raise AssertionError(f"GET {url} -> {response.status_code}: {response.text[:500]}")
    body: dict[str, Any] = response.json()
    return body
