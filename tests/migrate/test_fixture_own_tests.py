"""Every fixture server's own legacy tests pass, unchanged, against its hybrid phase (#12).

The fixture folders are discovered, not listed: a server added under
``tests/fixtures/servers/`` is taken through ``migrate plan`` and ``migrate apply`` on a
copy, then its own suite runs from that copy as its ``pytest.ini`` says (the suite's
conftest starts ``START`` from the copy). The servers of test_end_to_end.py's CASES are
left to it: it runs their own suites against the hybrid phase on a persistent store. A
test that pins a legacy defect the migration fixes (a missing ``jwks_uri``, an opaque token
format) is listed with its reason; any other failure fails here, quoted.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path

import pytest

from tests.migrate.e2e_support import (
    FIXTURE_SERVERS,
    PytestOutcome,
    copy_tree,
    migrate_to_hybrid,
    run_pytest,
)
from tests.migrate.test_end_to_end import CASES
from tests.migrate.test_zoo_acceptance import is_sdk_provider_server
from tests.support.sdk_venvs import SdkVenvUnavailable, sdk_python

# test_end_to_end.py runs the own suites of its CASES against the hybrid phase already.
COVERED = {case.name for case in CASES}
FOLDERS = sorted(
    p.name for p in FIXTURE_SERVERS.iterdir() if (p / "START").is_file() and p.name not in COVERED
)

_CHALLENGE = "asserts the 401 challenge without resource_metadata; the migration adds it"
_METADATA = "asserts jwks_uri and introspection_endpoint are absent; the migration adds them"
# Tests that assert the legacy defect itself, so the migration makes them fail on purpose.
PINNED: Mapping[str, Mapping[str, str]] = {
    "fastapi_asyncrepo": {
        "tests.check_legacy::test_metadata": _METADATA,
        "tests.check_legacy::test_token_response": (
            "asserts a 48-character token_hex access token; the migration issues JWTs"
        ),
        "tests.check_legacy::test_401": _CHALLENGE,
    },
    "flask_methodview": {
        "tests.check_legacy::test_metadata": _METADATA,
        "tests.check_legacy::test_tokens": (
            "asserts a 32-character base32 access token; the migration issues JWTs"
        ),
        "tests.check_legacy::test_401": _CHALLENGE,
    },
}

# Fixtures the kit cannot take to the hybrid phase yet, or with no suite of their own:
# strict, so the day one passes this list must lose it.
GAPS: Mapping[str, str] = {
    "starlette_asgi": (
        "plan blocks: the app is a bare Router wrapped by a pure ASGI middleware, and its mint "
        "and gate are not found (#12 items 1, 2 and 5)"
    ),
}


def _python(root: Path) -> str:
    """The interpreter the suite runs under: a venv of the server's own requirements for a
    server on the MCP SDK (mcp 1.x and 2.x cannot share one), else this one."""
    if not is_sdk_provider_server(root):
        return sys.executable
    lines = (root / "requirements.txt").read_text(encoding="utf-8").splitlines()
    wanted = [line.split("#")[0].strip() for line in lines]
    try:
        return str(sdk_python([w for w in wanted if w]))
    except SdkVenvUnavailable as missing:
        pytest.skip(f"no venv for {root.name}'s requirements: {missing}")


@pytest.fixture(
    scope="module",
    params=[
        pytest.param(f, marks=pytest.mark.xfail(reason=GAPS[f], strict=True)) if f in GAPS else f
        for f in FOLDERS
    ],
)
def hybrid_suite(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> PytestOutcome:
    """The fixture's own suite, run once from its copy migrated to the hybrid phase."""
    name: str = request.param
    workdir = tmp_path_factory.mktemp(f"own-{name}")
    root = copy_tree(FIXTURE_SERVERS / name, workdir / name)
    migrate_to_hybrid(root, allow_dirty=True)
    # No arguments: the copy's pytest.ini (testpaths, python_files) says what to collect.
    return run_pytest([], cwd=root, report=workdir / "report.xml", python=_python(root))


def test_own_tests_pass_against_the_hybrid_phase(
    hybrid_suite: PytestOutcome, request: pytest.FixtureRequest
) -> None:
    """The server's own tests pass on its hybrid copy, except those pinning a legacy defect."""
    name = request.node.callspec.params["hybrid_suite"]
    pinned = PINNED.get(name, {})
    unexpected = {t: text for t, text in hybrid_suite.failed.items() if t not in pinned}
    stale = sorted(set(pinned) - set(hybrid_suite.failed))
    problems = [f"FAILED {test}\n{text[-2500:]}" for test, text in unexpected.items()]
    problems += [f"listed as pinning a legacy defect but did not fail: {t}" for t in stale]
    assert hybrid_suite.passed, "no own test passed:\n" + hybrid_suite.run.describe()
    assert not problems, "\n\n".join(problems) + "\n\n" + hybrid_suite.run.describe(2000)
