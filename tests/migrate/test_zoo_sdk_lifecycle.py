"""The servers of the legacy zoo built on the MCP SDK's provider interface, through the
parts of their life cycle the acceptance harness does not judge.

For each such server (``shared/legacy_zoo`` beside the repository), a module-scoped walk
copies it into a git work tree, runs it in a venv of its own requirements as its START
line says, and records:

- ``migrate verify`` on the legacy server (it must fail, with precise lines);
- ``apply`` then ``rollback``: every file back byte for byte; then ``apply`` again;
- in the hybrid phase: the server's own tests (``python -m pytest`` with its venv's
  python, as its README says) and ``migrate verify``;
- ``finalize``, then in the final phase: a JWT minted through the real OAuth flow, the
  ``whoami`` tool over MCP with it, a restart, ``whoami`` again with the same JWT (the
  in-memory servers too), and ``migrate verify``;
- ``rollback`` of the finalize: every file back to the hybrid tree, byte for byte.

Each step's outcome is kept, so one failing step fails its own test and the walk goes on
where it can.
"""

from __future__ import annotations

import re
import secrets
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from tests.migrate.e2e_support import (
    SHARED_DIR,
    CommandResult,
    PytestOutcome,
    clean_env,
    copy_tree,
    run_command,
    run_pytest,
)
from tests.migrate.test_zoo_acceptance import is_sdk_provider_server
from tests.support.oauth_flow import McpSession, OAuthFlow
from tests.support.sdk_venvs import SdkVenvUnavailable, sdk_python
from tests.support.server_process import ServerProcess, command_from_start_file
from tests.support.tree_files import commit_all, differences, own_files

ZOO_DIR = SHARED_DIR / "legacy_zoo"
STATE_DIR = ".oauth-migration/"  # the kit's bookkeeping: its history changes with each step
VERIFY_TIMEOUT = 120.0
T = TypeVar("T")

# What every legacy SDK server lacks, whatever else it gets right (STANDARDS.md, "Metadata").
LEGACY_DEFECTS = {"metadata.jwks_uri", "metadata.introspection", "token.format"}


def _sdk_servers() -> list[Path]:
    if not ZOO_DIR.is_dir():
        return []
    folders = sorted(f for f in ZOO_DIR.iterdir() if (f / "START").is_file())
    return [f for f in folders if is_sdk_provider_server(f)]


SERVERS: list[Any] = [pytest.param(f, id=f.name) for f in _sdk_servers()] or [
    pytest.param(None, id="no-zoo")
]


@dataclass
class Verdicts:
    """One ``migrate verify`` run: its exit status and each check line by id."""

    run: CommandResult
    lines: dict[str, tuple[str, str]]

    @classmethod
    def of(cls, run: CommandResult) -> Verdicts:
        lines = {}
        for line in run.stdout.splitlines():
            parts = line.split(maxsplit=2)
            if len(parts) >= 2 and parts[0] in ("PASS", "FAIL", "WARN", "SKIP"):
                lines[parts[1]] = (parts[0], parts[2] if len(parts) > 2 else "")
        return cls(run, lines)

    def with_status(self, status: str) -> dict[str, str]:
        return {i: message for i, (s, message) in self.lines.items() if s == status}


@dataclass
class Walk:
    """What each step of one server's walk gave (a value, or the failure that stopped it)."""

    name: str
    root: Path
    user: str
    observed: dict[str, Any] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)

    def step(self, name: str, action: Callable[[], T]) -> T | None:
        started = time.monotonic()
        try:
            value = action()
        except Exception as problem:  # kept for the test that reads this step
            self.failures[name] = f"{type(problem).__name__}: {problem}"
            return None
        finally:
            self.seconds[name] = round(time.monotonic() - started, 1)
        self.observed[name] = value
        return value

    def get(self, name: str) -> Any:
        if name not in self.observed:
            reason = self.failures.get(name, "an earlier step failed, so it did not run")
            pytest.fail(f"{self.name}: step {name!r} has no result: {reason}")
        return self.observed[name]


def _own_python(folder: Path) -> Path:
    lines = (folder / "requirements.txt").read_text(encoding="utf-8").splitlines()
    wanted = [w for w in (line.split("#")[0].strip() for line in lines) if w]
    try:
        return sdk_python(wanted)
    except SdkVenvUnavailable as missing:
        pytest.skip(f"no venv for {folder.name}'s requirements: {missing}")


def _kit(*args: str, root: Path, expect: list[int], now: float | None = None) -> CommandResult:
    env = clean_env({"OAUTH_MIGRATE_NOW": None if now is None else str(int(now))})
    argv = [sys.executable, "-m", "migrate", *args]
    return run_command(argv, cwd=root.parent, env=env, timeout=VERIFY_TIMEOUT, expect=expect)


def _verify(server: ServerProcess, root: Path) -> Verdicts:
    return Verdicts.of(_kit("verify", server.base_url, root=root, expect=[0, 8]))


def _whoami(base_url: str, token: str) -> str:
    with httpx.Client(timeout=20.0) as http, McpSession(http, base_url + "/mcp", token) as mcp:
        mcp.initialize()
        return mcp.whoami()


def _mint(base_url: str) -> str:
    """An access token from the real flow: register, authorize with PKCE S256, exchange."""
    with httpx.Client(timeout=20.0) as http:
        flow = OAuthFlow(base_url, http)
        # The SDK's /token wants client_id in the form even with Basic: post the secret.
        client = flow.register_client(auth_method="client_secret_post")
        return flow.obtain_tokens(client)[1].access_token


def _walk(folder: Path, workdir: Path) -> Walk:
    python = _own_python(folder)
    root = copy_tree(folder, workdir / folder.name)
    commit_all(root, "legacy")
    walk = Walk(folder.name, root, user=f"user-{secrets.token_hex(4)}")
    command = command_from_start_file(root / "START")
    command[0] = str(python) if command[0] == sys.executable else command[0]
    server = ServerProcess(command, cwd=root, log_dir=workdir, env={"DEMO_USER": walk.user})
    walk.observed["server"] = server
    try:
        _legacy_and_rollback(walk, server)
        _hybrid(walk, server, python)
        _final(walk, server)
    finally:
        server.stop()
    return walk


def _legacy_and_rollback(walk: Walk, server: ServerProcess) -> None:
    root = walk.root
    server.start()
    walk.step("legacy.verify", lambda: _verify(server, root))
    server.stop()
    legacy = own_files(root, skip=(STATE_DIR,))
    walk.observed["legacy.files"] = legacy
    walk.step("apply.first", lambda: _kit("apply", str(root), "--yes", root=root, expect=[0]))
    walk.step("hybrid.files", lambda: own_files(root, skip=(STATE_DIR,)))
    walk.step("rollback.apply", lambda: _kit("rollback", str(root), "--yes", root=root, expect=[0]))
    walk.step("rollback.apply.files", lambda: own_files(root, skip=(STATE_DIR,)))
    walk.observed["rollback.apply.keys"] = sorted(root.glob(STATE_DIR + "keys/*"))
    commit_all(root, "rolled back")  # the kit's state.json, as README says to commit it
    walk.step("apply", lambda: _kit("apply", str(root), "--yes", root=root, expect=[0]))


def _hybrid(walk: Walk, server: ServerProcess, python: Path) -> None:
    root = walk.root
    commit_all(root, "oauth-migrate: hybrid phase")
    report = root.parent / "own-tests.xml"
    walk.step("hybrid.own_tests", lambda: _own_tests(root, python, report))
    server.start()
    walk.step("hybrid.verify", lambda: _verify(server, root))
    server.stop()


def _own_tests(root: Path, python: Path, report: Path) -> PytestOutcome:
    return run_pytest([], cwd=root, report=report, python=python)


def _final(walk: Walk, server: ServerProcess) -> None:
    root = walk.root
    hybrid = own_files(root, skip=(STATE_DIR,))
    later = time.time() + 2 * 3600  # past every opaque token's lifetime (finalize's rule)
    finalized = walk.step(
        "finalize", lambda: _kit("finalize", str(root), "--yes", root=root, expect=[0], now=later)
    )
    if finalized is None:
        return
    server.start()
    token = walk.step("final.mint", lambda: _mint(server.base_url))
    if token is not None:
        walk.step("final.whoami.before", lambda: _whoami(server.base_url, token))
        server.restart()
        walk.step("final.whoami.after_restart", lambda: _whoami(server.base_url, token))
    walk.step("final.verify", lambda: _verify(server, root))
    server.stop()
    walk.observed["final.hybrid_files"] = hybrid
    walk.step(
        "rollback.finalize", lambda: _kit("rollback", str(root), "--yes", root=root, expect=[0])
    )
    walk.step("rollback.finalize.files", lambda: own_files(root, skip=(STATE_DIR,)))


@pytest.fixture(scope="module", params=SERVERS)
def walk(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Walk:
    folder: Path | None = request.param
    if folder is None:
        pytest.skip(f"no legacy zoo with SDK-provider servers at {ZOO_DIR}")
    started = time.monotonic()
    done = _walk(folder, tmp_path_factory.mktemp(f"sdk-{folder.name}"))
    done.seconds["walk"] = round(time.monotonic() - started, 1)
    print(f"\n{done.name}: seconds per step {done.seconds}")
    for step in ("legacy.verify", "hybrid.verify", "final.verify"):
        found = done.observed.get(step)
        summary = found.run.stdout.strip().splitlines()[-1:] if found else ["did not run"]
        print(f"{done.name} {step}: exit {found.run.returncode if found else '-'}, {summary}")
    return done


def _log(walk: Walk) -> str:
    server: ServerProcess = walk.observed["server"]
    return f"\n--- server log (tail)\n{server.log_text()[-3000:]}"


def _failed_lines(verdicts: Verdicts) -> str:
    return "\n".join(f"  FAIL {i}: {m}" for i, m in verdicts.with_status("FAIL").items())


def test_verify_fails_the_legacy_server_with_precise_lines(walk: Walk) -> None:
    """On the legacy server verify exits 8, and FAILs at least the missing jwks_uri,
    introspection endpoint and JWT format, each line saying what is missing."""
    verdicts: Verdicts = walk.get("legacy.verify")
    assert verdicts.run.returncode == 8, verdicts.run.describe()
    failed = verdicts.with_status("FAIL")
    assert set(failed) >= LEGACY_DEFECTS, verdicts.run.describe()
    assert "no jwks_uri" in failed["metadata.jwks_uri"]
    assert "no introspection_endpoint" in failed["metadata.introspection"]
    assert "the access token is opaque" in failed["token.format"]


def test_rollback_after_apply_restores_every_file(walk: Walk) -> None:
    """`migrate rollback` right after `apply` gives back the legacy tree, byte for byte."""
    legacy, hybrid = walk.get("legacy.files"), walk.get("hybrid.files")
    assert differences(legacy, hybrid), "apply changed no file: nothing was rolled back"
    after = walk.get("rollback.apply.files")
    assert differences(legacy, after) == [], walk.get("rollback.apply").describe()
    assert walk.get("rollback.apply.keys") == [], "the key apply generated is still there"


# An own test that asserts what the migration changes by design: the opaque token's shape
# (a prefix, a length, a count of dots, checked on the JWT, whose base64url starts "eyJ") or the
# metadata's lack of jwks_uri / introspection_endpoint (STANDARDS.md, "Metadata"). Told
# by the assertion's message, so the excuse cannot hide any other failure.
_PINS_METADATA = re.compile(
    r"assert .*\b(jwks_uri|introspection_endpoint)\b.* not in |"
    r"assert not \(\{.*(jwks_uri|introspection_endpoint)"
)
_PINS_FORMAT = re.compile(r"\b(startswith|len|count)\b.*'eyJ|'eyJ.*\b(startswith|len|count)\b")


def pins_the_legacy_shape(failure: str) -> bool:
    """Whether an own test failed only on the shape the migration changes (its message)."""
    message = "\n".join(failure.splitlines()[:3])
    return bool(_PINS_METADATA.search(message) or _PINS_FORMAT.search(message))


def _own_failures(walk: Walk) -> tuple[PytestOutcome, dict[str, str], dict[str, str]]:
    outcome: PytestOutcome = walk.get("hybrid.own_tests")
    pinned = {t: f for t, f in outcome.failed.items() if pins_the_legacy_shape(f)}
    print(
        f"\n{walk.name}: own tests {len(outcome.passed)} passed, {len(outcome.failed)} failed"
        f" ({len(pinned)} pin the legacy shape: {sorted(pinned)})"
    )
    return outcome, pinned, {t: f for t, f in outcome.failed.items() if t not in pinned}


def test_own_tests_pass_in_the_hybrid_phase(walk: Walk) -> None:
    """The server's own test suite, run with its venv's python, passes on the hybrid tree,
    but for tests asserting the opaque token's shape or a metadata without jwks_uri. Unit
    tests of a provider built without its server pass too: with no issuer known, the
    hybrid mint makes the legacy opaque token (shims/deferred.py)."""
    outcome, _, left = _own_failures(walk)
    failures = "\n".join(f"{test}: {text[:800]}" for test, text in left.items())
    assert outcome.passed, outcome.run.describe()
    assert not left, f"{len(left)} failed:\n{failures}"


def test_verify_passes_the_hybrid_server(walk: Walk) -> None:
    """`migrate verify` exits 0 on the migrated server in the hybrid phase, no FAIL."""
    verdicts: Verdicts = walk.get("hybrid.verify")
    assert verdicts.run.returncode == 0, _failed_lines(verdicts) + "\n" + _log(walk)
    assert verdicts.with_status("PASS"), verdicts.run.describe()


def test_whoami_answers_the_user_in_the_final_phase(walk: Walk) -> None:
    """In the final phase whoami, called with a freshly minted JWT, names the user."""
    walk.get("finalize")
    assert walk.user in walk.get("final.whoami.before"), _log(walk)


def test_jwt_minted_before_a_restart_still_answers_whoami(walk: Walk) -> None:
    """A JWT minted before a restart still works after it: whoami names the same user."""
    walk.get("final.whoami.before")
    answer = walk.get("final.whoami.after_restart")
    assert walk.user in answer, f"whoami after the restart said {answer!r}" + _log(walk)


def test_verify_passes_the_final_server(walk: Walk) -> None:
    """`migrate verify` exits 0 on the migrated server in the final phase, no FAIL."""
    verdicts: Verdicts = walk.get("final.verify")
    assert verdicts.run.returncode == 0, _failed_lines(verdicts) + "\n" + _log(walk)
    assert verdicts.with_status("PASS"), verdicts.run.describe()


def test_rollback_after_finalize_restores_the_hybrid_tree(walk: Walk) -> None:
    """`migrate rollback` after `finalize` gives back the hybrid tree, byte for byte."""
    hybrid = walk.get("final.hybrid_files")
    after = walk.get("rollback.finalize.files")
    assert differences(hybrid, after) == [], walk.get("rollback.finalize").describe()
