"""`migrate verify` repeats the code flow with a wrong ``code_verifier`` (RFC 7636 §4.6).

Against real servers: the sample, which compares the verifier's S256 digest with the stored
challenge, and a copy of it whose token endpoint accepts any verifier (the check replaced by
``return True``), which still advertises S256.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.migrate.e2e_support import copy_tree
from tests.migrate.tree_support import REPO_ROOT
from tests.migrate.verify.support import run_verify, verdicts
from tests.sample_legacy.launch import HERMETIC_ENV, sample_server
from tests.support.server_process import ServerProcess, command_from_start_file

CHECK = "_pkce_matches(code_verifier: str, code_challenge: str) -> bool:\n"


def lax_sample(workdir: Path) -> Path:
    """A copy of the sample whose PKCE check accepts every verifier."""
    root = copy_tree(REPO_ROOT / "sample_legacy", workdir / "sample_legacy")
    oauth = root / "oauth.py"
    text = oauth.read_text(encoding="utf-8")
    assert CHECK in text, "the sample's PKCE check moved"
    oauth.write_text(text.replace(CHECK, CHECK + "    return True\n"), encoding="utf-8")
    return workdir


@pytest.fixture(scope="module")
def lax_verdicts(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, tuple[str, str]]]:
    workdir = lax_sample(tmp_path_factory.mktemp("lax"))
    start = command_from_start_file(workdir / "sample_legacy" / "START")
    with ServerProcess(start, cwd=workdir, log_dir=workdir, env=HERMETIC_ENV) as server:
        yield verdicts(run_verify(server.base_url).output)


def test_a_wrong_verifier_accepted_is_a_warning(lax_verdicts: dict[str, tuple[str, str]]) -> None:
    """S256 advertised, a token issued for the wrong verifier: WARN, naming RFC 7636."""
    status, message = lax_verdicts["token.pkce_enforced"]
    assert status == "WARN"
    assert "PKCE is not enforced (RFC 7636 §4.6)" in message
    assert lax_verdicts["metadata.pkce_s256"][0] == "PASS"


def test_a_wrong_verifier_refused_passes(tmp_path: Path) -> None:
    """The sample checks the verifier: the wrong one is refused, the check passes."""
    with sample_server(tmp_path) as server:
        found = verdicts(run_verify(server.base_url).output)
    assert found["token.pkce_enforced"][0] == "PASS", found
