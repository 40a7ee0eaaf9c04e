"""`migrate verify`: usage errors, an unreachable server."""

from __future__ import annotations

import subprocess
import sys

from tests.migrate.verify.support import failing, run_verify
from tests.support.server_process import free_port


def test_url_that_is_not_http_is_a_usage_error() -> None:
    """A URL without an http(s) scheme exits 64 with a usage message."""
    result = run_verify("ftp://example.org")
    assert result.exit_code == 64
    assert "is not an http(s) URL" in result.output


def test_client_id_without_secret_is_a_usage_error() -> None:
    """--client-id alone exits 64: the two options go together."""
    result = run_verify("http://127.0.0.1:1", "--client-id", "x")
    assert result.exit_code == 64
    assert "together" in result.output


def test_unreachable_server_is_one_cannot_connect_line_and_exit_8() -> None:
    """Nothing listening: one FAIL line "cannot connect", no SKIP lines; exit 8."""
    result = run_verify(f"http://127.0.0.1:{free_port()}", "--timeout", "2")
    assert result.exit_code == 8
    assert failing(result.output) == {"connect"}
    assert "cannot connect to http://127.0.0.1:" in result.output
    assert "SKIP" not in result.output


def test_unreachable_server_prints_no_traceback() -> None:
    """`python -m migrate verify` on a dead port writes no traceback to stderr."""
    proc = subprocess.run(
        [sys.executable, "-m", "migrate", "verify", f"http://127.0.0.1:{free_port()}"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 8
    assert "Traceback" not in proc.stderr + proc.stdout
    assert proc.stdout.strip().splitlines()[-1].startswith("verify: 0 passed, 1 failed")
