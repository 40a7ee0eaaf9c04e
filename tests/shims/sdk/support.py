"""Migrated test servers on real SDK versions, each run in its own cached venv.

``SDK_VERSIONS`` are the versions users pin that differ for the runtime (see
MIGRATION.md, "Servers on the MCP SDK's provider"). A server runs as a subprocess of its
venv's interpreter on a free 127.0.0.1 port, with the runtime on its ``PYTHONPATH`` under
the name ``apply`` gives it (``oauth_migration``).
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.support.sdk_venvs import SdkVenvUnavailable, sdk_python
from tests.support.server_process import ServerProcess

SERVERS = Path(__file__).resolve().parent / "servers"
SHIMS = Path(__file__).resolve().parents[3] / "shims"


@dataclass(frozen=True)
class SdkVersion:
    label: str
    requirements: tuple[str, ...]
    script: str
    major: int  # 1 or 2: the mcp major the server runs on

    @property
    def fastmcp(self) -> bool:
        return self.script.startswith("fastmcp")


# mcp 1.20 imports a pydantic internal that pydantic 2.12 removed: pinned as its users must.
SDK_VERSIONS = (
    SdkVersion(
        "mcp-1.20.0", ("mcp==1.20.0", "pydantic<2.12", "uvicorn"), "sdk_provider_server.py", 1
    ),
    SdkVersion("mcp-1.27.1", ("mcp==1.27.1", "uvicorn"), "sdk_provider_server.py", 1),
    SdkVersion("mcp-1.27.2", ("mcp==1.27.2", "uvicorn"), "sdk_provider_server.py", 1),
    SdkVersion("mcp-1.30.0", ("mcp==1.30.0", "uvicorn"), "sdk_provider_server.py", 1),
    SdkVersion("mcp-2.3.0", ("mcp==2.3.0", "uvicorn"), "sdk_provider_server.py", 2),
    SdkVersion("fastmcp-4.2.3", ("fastmcp==4.2.3",), "fastmcp_provider_server.py", 2),
)


def python_for(version: SdkVersion) -> Path:
    """The venv interpreter for ``version``; the test skips with pip's reason without it."""
    try:
        return sdk_python(version.requirements)
    except SdkVenvUnavailable as exc:
        pytest.skip(f"no venv for {version.label}: {exc}")


def runtime_path(folder: Path) -> Path:
    """A folder holding the runtime as ``oauth_migration`` (a link to ``shims``)."""
    folder.mkdir(parents=True, exist_ok=True)
    link = folder / "oauth_migration"
    if not link.exists():
        link.symlink_to(SHIMS, target_is_directory=True)
    return folder


def server_env(
    runtime: Path, keys: Path, *, phase: str, extra: Mapping[str, str] | None = None
) -> dict[str, str | None]:
    env: dict[str, str | None] = {
        "PYTHONPATH": str(runtime),
        "KEYS_DIR": str(keys),
        "PHASE": phase,
        "OAUTH_MIGRATE_ISSUER": None,
        "OAUTH_MIGRATE_KEYS_DIR": None,
    }
    env.update(extra or {})
    return env


def migrated_server(
    version: SdkVersion,
    tmp: Path,
    runtime: Path,
    keys: Path,
    *,
    phase: str,
    extra: Mapping[str, str] | None = None,
) -> ServerProcess:
    python = python_for(version)
    return ServerProcess(
        [str(python), version.script],
        cwd=SERVERS,
        log_dir=tmp,
        env=server_env(runtime, keys, phase=phase, extra=extra),
    )


def plain_metadata(version: SdkVersion, runtime: Path, keys: Path, base_url: str) -> Any:
    """The RFC 8414 document the unmigrated server serves (no ``install_mcp``), read in
    process with Starlette's test client in the SDK's venv."""
    builder = "http_app" if version.fastmcp else "streamable_http_app"
    module = version.script.removesuffix(".py")
    code = (
        "import json, sys\n"
        "from starlette.testclient import TestClient\n"
        f"import {module} as server\n"
        f"client = TestClient(server.mcp.{builder}(), base_url=sys.argv[1])\n"
        "print(json.dumps(client.get('/.well-known/oauth-authorization-server').json()))\n"
    )
    env = dict(os.environ, BASE_URL=base_url)
    for name, value in server_env(
        runtime, keys, phase="hybrid", extra={"MIGRATION": "off"}
    ).items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    done = subprocess.run(
        [str(python_for(version)), "-c", code, base_url],
        cwd=SERVERS,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])
