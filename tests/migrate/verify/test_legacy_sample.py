"""`migrate verify` against the real, unmigrated sample server: it fails, precisely."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from click.testing import Result

from tests.migrate.verify.support import failing, run_verify, verdicts
from tests.sample_legacy.launch import sample_server

# What a legacy server lacks, by check id (STANDARDS.md, "The diagnosis").
LEGACY_FAILS = {
    "metadata.jwks_uri",
    "metadata.introspection",
    "prm",
    "challenge.resource_metadata",
    "token.format",
}


@pytest.fixture(scope="module")
def result(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Result]:
    """One verify run against the legacy sample (in-memory store)."""
    with sample_server(tmp_path_factory.mktemp("legacy")) as server:
        yield run_verify(server.base_url)


def test_exit_status_is_8(result: Result) -> None:
    """Any FAIL makes verify exit 8 (CHECKS_FAILED)."""
    assert result.exit_code == 8, result.output


def test_fails_exactly_the_legacy_defects(result: Result) -> None:
    """The FAIL lines are jwks_uri, introspection, PRM, resource_metadata and token format."""
    assert failing(result.output) == LEGACY_FAILS, result.output


def test_what_the_legacy_server_does_right_passes(result: Result) -> None:
    """Metadata, S256, the Bearer 401, the code flow and /mcp with the token pass."""
    found = verdicts(result.output)
    for check_id in ("metadata", "metadata.pkce_s256", "challenge", "token.obtain"):
        assert found[check_id][0] == "PASS", result.output
    assert found["mcp.token_accepted"][0] == "PASS", result.output


def test_token_format_line_says_the_token_is_opaque(result: Result) -> None:
    """The token.format line says the access token is opaque."""
    status, message = verdicts(result.output)["token.format"]
    assert status == "FAIL"
    assert "the access token is opaque" in message


def test_jwt_checks_skip_naming_the_failed_format_check(result: Result) -> None:
    """The JWT checks are SKIP, each naming token.format as the reason."""
    found = verdicts(result.output)
    for check_id in ("token.header", "token.signature", "token.claims"):
        assert found[check_id] == ("SKIP", "the access token is not a JWT (token.format)")


def test_prm_line_quotes_both_urls_tried(result: Result) -> None:
    """The prm line names the path-inserted and the root well-known URLs and their 404s."""
    message = verdicts(result.output)["prm"][1]
    assert "/.well-known/oauth-protected-resource/mcp -> 404" in message
    assert "/.well-known/oauth-protected-resource -> 404" in message


def test_summary_line_counts_the_verdicts(result: Result) -> None:
    """The last line sums up the verdicts."""
    last = result.output.strip().splitlines()[-1]
    # 6: the five right things above plus token.pkce_enforced (a wrong verifier refused)
    assert last.startswith(f"verify: 6 passed, {len(LEGACY_FAILS)} failed, 0 warnings"), last


def test_no_traceback(result: Result) -> None:
    """The run ends with SystemExit, never another exception."""
    assert isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
