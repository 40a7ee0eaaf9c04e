"""`make demo`: the kit on a temporary copy of sample_legacy/, step by step.

What runs today: the legacy server with a persistent token store, an opaque token
obtained through its own OAuth flow, the defects a client meets, then `migrate plan`.
The later steps (apply, the hybrid period, status, finalize, verify) join this script as
their commands land; until then the demo says where it stops.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.oauth_flow import OAuthFlow, send_initialize, whoami_with  # noqa: E402
from tests.support.server_process import ServerProcess, command_from_start_file  # noqa: E402


def say(text: str) -> None:
    print(text, flush=True)


def copy_sample(workdir: Path) -> Path:
    target = workdir / "server"
    shutil.copytree(
        ROOT / "sample_legacy",
        target / "sample_legacy",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    return target


def show_legacy(server: ServerProcess, http: httpx.Client) -> None:
    flow = OAuthFlow(server.base_url, http)
    metadata = flow.metadata
    say(f"  issuer {metadata['issuer']}")
    for name in ("jwks_uri", "introspection_endpoint"):
        say(f"  {name}: {'present' if name in metadata else 'MISSING'}")
    prm = http.get(server.base_url + "/.well-known/oauth-protected-resource/mcp")
    say(f"  protected-resource metadata: HTTP {prm.status_code}")
    challenge = send_initialize(http, server.base_url + "/mcp", None).headers.get(
        "WWW-Authenticate", ""
    )
    hint = "with" if "resource_metadata" in challenge else "WITHOUT"
    say(f"  401 challenge {hint} resource_metadata: {challenge}")
    tokens = flow.obtain_tokens()[1]
    say(f"  opaque access token {tokens.access_token[:12]}... (expires_in {tokens.expires_in})")
    say(
        f"  /mcp whoami with it: {whoami_with(http, server.base_url + '/mcp', tokens.access_token)}"
    )


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="oauth-migrate-demo-") as tmp:
        workdir = Path(tmp)
        target = copy_sample(workdir)
        say(f"1. sample_legacy copied to {target}")
        server = ServerProcess(
            command_from_start_file(ROOT / "sample_legacy" / "START"),
            cwd=target,
            log_dir=workdir,
            env={"SAMPLE_TOKEN_DB": str(workdir / "tokens.sqlite3"), "LOG_LEVEL": "warning"},
        )
        say("2. the legacy server, as clients see it:")
        with server, httpx.Client(timeout=10) as http:
            show_legacy(server, http)
        say("3. migrate plan:")
        plan = subprocess.run([sys.executable, "-m", "migrate", "plan", str(target)], check=False)
        if plan.returncode == 2:
            say("   The demo stops here: `migrate plan` and the later phases are not built yet.")
            return 0
        return plan.returncode


if __name__ == "__main__":
    raise SystemExit(main())
