"""Progress on stderr for slow work, and verify's lines as each check completes.

The one-second threshold is OAUTH_MIGRATE_PROGRESS_AFTER; the tests set it to 0 so that
the note's appearance does not depend on how fast this machine is.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

from tests.migrate.cli_support import migrate
from tests.migrate.tree_support import copy_sample

AT_ONCE = {"OAUTH_MIGRATE_PROGRESS_AFTER": "0"}


def test_plan_says_on_stderr_what_it_is_reading(tmp_path: Path) -> None:
    """A plan that takes longer than the threshold says on stderr what it is doing."""
    project = copy_sample(tmp_path / "project")
    ran = migrate("plan", str(project), env=AT_ONCE)
    assert ran.code == 2, ran
    lines = ran.stderr.splitlines()
    assert lines[0] == f"migrate: reading the Python files under {project} ..."
    assert lines[-1].startswith(f"migrate: reading the Python files under {project}: done in ")
    assert "reading the Python files" not in ran.stdout


def test_verify_prints_each_check_while_it_still_runs() -> None:
    """Against a server that never answers, the first FAIL line arrives before the end."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        listener.listen(16)
        url = f"http://127.0.0.1:{listener.getsockname()[1]}"
        proc = subprocess.Popen(
            [sys.executable, "-m", "migrate", "verify", url, "--timeout", "1"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, **AT_ONCE},
        )
        with proc:
            assert proc.stdout is not None
            first = proc.stdout.readline()
            still_running = proc.poll() is None  # prm and the challenge are still to time out
            rest, stderr = proc.communicate(timeout=120)
    assert first.split(maxsplit=2)[:2] == ["FAIL", "metadata"], first
    assert "ReadTimeout" in first
    assert still_running
    assert proc.returncode == 8
    assert f"verify: waiting for {url} ..." in stderr.splitlines()
