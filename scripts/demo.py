"""`make demo`: the whole life cycle on a temporary copy of sample_legacy/, step by step.

legacy server with a persistent store and an opaque token -> plan -> apply -> restart:
the old opaque token still works and new tokens are JWTs -> status: not ready -> the
clock moved past the last opaque token's lifetime (OAUTH_MIGRATE_NOW, the documented
test-only clock) -> status: ready -> finalize -> restart: the opaque token is refused,
the JWT works -> verify passes.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from migrate.exit_codes import MEANINGS, Exit  # noqa: E402
from tests.support.oauth_flow import OAuthFlow, send_initialize  # noqa: E402
from tests.support.server_process import ServerProcess, command_from_start_file  # noqa: E402


def say(text: str = "") -> None:
    print(text, flush=True)


def migrate(*args: str, env: dict[str, str] | None = None, lines: int = 0) -> int:
    """Run one `migrate` command; print its output (or its last ``lines`` lines)."""
    result = subprocess.run(
        [sys.executable, "-m", "migrate", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        check=False,
    )
    output = (result.stdout + result.stderr).rstrip("\n").splitlines()
    for line in output[-lines:] if lines else output:
        say("   | " + line)
    say(f"   (exit {meaning(result.returncode)})")
    return result.returncode


def meaning(code: int) -> str:
    """``7: not ready ...``: the code and its line of the exit-code table."""
    known = code in Exit._value2member_map_
    return f"{code}: {MEANINGS[Exit(code)]}" if known else str(code)


def mcp_status(http: httpx.Client, server: ServerProcess, token: str) -> str:
    answer = send_initialize(http, server.base_url + "/mcp", token)
    return f"HTTP {answer.status_code}"


def claims_of(token: str) -> dict[str, object]:
    payload = token.split(".")[1]
    claims: dict[str, object] = json.loads(base64.urlsafe_b64decode(payload + "=" * 4))
    return claims


def main() -> int:
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="oauth-migrate-demo-") as tmp:
        workdir = Path(tmp)
        project = workdir / "server"
        shutil.copytree(
            ROOT / "sample_legacy",
            project / "sample_legacy",
            ignore=shutil.ignore_patterns("__pycache__", "oauth_migration"),
        )
        shutil.copyfile(ROOT / "sample_legacy" / "requirements.txt", project / "requirements.txt")
        server = ServerProcess(
            command_from_start_file(ROOT / "sample_legacy" / "START"),
            cwd=project,
            log_dir=workdir,
            env={"SAMPLE_TOKEN_DB": str(workdir / "tokens.sqlite3"), "LOG_LEVEL": "warning"},
        )
        with httpx.Client(timeout=10) as http:
            return walk(project, server, http, started)


def walk(project: Path, server: ServerProcess, http: httpx.Client, started: float) -> int:
    say(f"1. The legacy server (a copy of sample_legacy in {project}, SQLite token store)")
    with server:
        flow = OAuthFlow(server.base_url, http)
        metadata = flow.metadata
        for name in ("jwks_uri", "introspection_endpoint"):
            say(f"   metadata {name}: {'present' if name in metadata else 'MISSING'}")
        challenge = send_initialize(http, server.base_url + "/mcp", None).headers.get(
            "WWW-Authenticate", ""
        )
        say(f"   401 challenge: {challenge}  (no resource_metadata: clients cannot discover)")
        client, legacy = flow.obtain_tokens()
        say(f"   opaque access token {legacy.access_token[:16]}...: /mcp answers "
            f"{mcp_status(http, server, legacy.access_token)}")  # fmt: skip
    say()
    say("2. migrate plan (the steps; the full diff is in `migrate plan` itself)")
    plan = subprocess.run(
        [sys.executable, "-m", "migrate", "plan", str(project)],
        capture_output=True,
        text=True,
        check=False,
    )
    steps = plan.stdout.split("\nSteps\n")[1].split("\n\n")[0]
    for line in steps.splitlines():
        if line.strip() and not line.startswith("        "):
            say("   | " + line.strip())
    say(f"   (exit {meaning(plan.returncode)})")
    say()
    say("3. migrate apply")
    migrate("apply", str(project), "--yes")
    say("   (requirements.txt now lists pyjwt[crypto] and cryptography too)")
    say()
    say("4. Restart on the same store: the hybrid phase")
    with server:
        answer = mcp_status(http, server, legacy.access_token)
        say(f"   the opaque token from before: /mcp answers {answer}")
        _, fresh = OAuthFlow(server.base_url, http).obtain_tokens(client)
        claims = claims_of(fresh.access_token)
        say(f"   a new access token is a JWT: {fresh.access_token[:24]}...")
        lifetime = int(str(claims["exp"])) - int(str(claims["iat"]))
        say(f"     iss {claims['iss']}, aud {claims['aud']}, sub {claims['sub']}")
        say(f"     client_id {claims['client_id']}, exp - iat = {lifetime} s")
        say(f"   /mcp with the JWT: {mcp_status(http, server, fresh.access_token)}")
    say()
    say("5. migrate status (the server flushed its metrics when it stopped)")
    migrate("status", str(project))
    later = str(int(time.time()) + 3600 + 120)
    say()
    say(f"6. The clock moves past the last opaque token's lifetime (OAUTH_MIGRATE_NOW={later})")
    migrate("status", str(project), env={"OAUTH_MIGRATE_NOW": later}, lines=2)
    say()
    say("7. migrate finalize")
    migrate("finalize", str(project), "--yes", env={"OAUTH_MIGRATE_NOW": later})
    say()
    say("8. Restart: the final phase (JWT only)")
    with server:
        for name, token in (("the opaque token", legacy), ("the JWT from step 4", fresh)):
            say(f"   {name}: /mcp answers {mcp_status(http, server, token.access_token)}")
        say()
        say(f"9. migrate verify {server.base_url}")
        code = migrate("verify", server.base_url, lines=1)
    say()
    say(f"Done in {time.monotonic() - started:.0f} s.")
    return code


if __name__ == "__main__":
    raise SystemExit(main())
