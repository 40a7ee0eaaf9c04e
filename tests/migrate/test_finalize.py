"""`migrate finalize`: readiness, the plan, idempotence, refusals, manual steps, rollback.

Each test migrates a fresh copy to the hybrid phase in process (`apply` through click's
runner) and, where readiness matters, writes the metrics file a hybrid server that ran
would have left (:func:`tests.migrate.lifecycle_support.record_hybrid_run`). The tests at
the end start the migrated server (a real subprocess on 127.0.0.1) and send it real
requests: revocation across the cutover (finding 1), and a final gate that reads fields of
its record (#8). The whole life cycle with servers is in ``test_lifecycle.py``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner, Result

import migrate.readiness
from migrate.apply import check_plan
from migrate.cli import cli
from migrate.errors import ApplyRefused
from migrate.finalizer import plan_final
from migrate.status import ENV_NOW, SKEW
from migrate.status import status as real_status
from tests.migrate.e2e_support import FIXTURE_SERVERS, SHARED_DIR, copy_tree
from tests.migrate.lifecycle_support import record_hybrid_run, snapshot, snapshot_difference
from tests.migrate.tree_support import copy_sample, git
from tests.support.oauth_flow import OAuthFlow, send_initialize
from tests.support.server_process import ServerProcess, command_from_start_file

LIFETIME = 3600
ZOO_HOOK = SHARED_DIR / "legacy_zoo" / "flask_sqlite_hook"


def _stamp(at: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(at))


def run(*args: str, at: float | None = None) -> Result:
    """``migrate ARGS`` in process; ``at`` sets OAUTH_MIGRATE_NOW (unset otherwise).

    finalize and rollback get ``--yes``: no terminal answers their prompt here (the
    prompt itself is tested in test_cli_prompts.py)."""
    env: Mapping[str, str | None] = {ENV_NOW: None if at is None else repr(at)}
    confirmed = ["--yes"] if args[0] in ("finalize", "rollback") else []
    return CliRunner().invoke(cli, [*args, *confirmed], env=env)


def phase_of(root: Path) -> str:
    data: dict[str, Any] = json.loads((root / ".oauth-migration" / "state.json").read_text())
    return str(data["phase"])


def to_hybrid(root: Path) -> Path:
    applied = run("apply", str(root), "--yes", "--allow-dirty")
    assert applied.exit_code == 0, applied.output
    assert phase_of(root) == "hybrid"
    return root


@pytest.fixture
def hybrid(tmp_path: Path) -> Path:
    """A copy of the sample in the hybrid phase, with no metrics yet."""
    return to_hybrid(copy_sample(tmp_path / "project"))


@pytest.fixture
def ran(hybrid: Path) -> float:
    """The hybrid sample's metrics, as if its server started now; the earliest ready time."""
    started = time.time()
    record_hybrid_run(hybrid, started=started, opaque=[(started + 1, "client-a")])
    return started + LIFETIME + SKEW


# -- the plan --------------------------------------------------------------------------


def test_plan_only_shows_the_diff_and_changes_nothing(hybrid: Path) -> None:
    """`finalize --plan-only` prints the hybrid -> final diff, exits 2 and writes nothing."""
    before = snapshot(hybrid)
    result = run("finalize", str(hybrid), "--plan-only")
    assert result.exit_code == 2, result.output
    out = result.stdout
    assert "(hybrid -> final)" in out
    assert "final-gate" in out and "final-wiring" in out
    assert "--- a/sample_legacy/auth.py" in out
    assert "-        record = oauth_migration.resolve(token, legacy=lambda t:" in out
    assert "+        record = oauth_migration.resolve(token, record=lambda c:" in out
    # apply already put revoke() on the delete paths (finding 1): none added twice.
    assert "revoke-on-delete" not in out and "+            oauth_migration.revoke(" not in out
    assert snapshot_difference(before, snapshot(hybrid)) == []
    assert phase_of(hybrid) == "hybrid"


# -- readiness -------------------------------------------------------------------------


def test_finalize_refuses_before_ready_with_the_earliest_time(hybrid: Path, ran: float) -> None:
    """Without --force and before the earliest time, finalize exits 7, names it, writes nothing."""
    before = snapshot(hybrid)
    result = run("finalize", str(hybrid))
    assert result.exit_code == 7, result.output
    assert f"verdict: not ready, earliest at {_stamp(ran)}" in result.stderr
    assert f"refusing, status is not ready: run `migrate finalize {hybrid}` again after " \
        f"{_stamp(ran)}, or pass --force" in result.stderr  # fmt: skip
    assert "client-a: 1" in result.stderr
    assert snapshot_difference(before, snapshot(hybrid)) == []
    assert phase_of(hybrid) == "hybrid"


def test_finalize_refuses_without_metrics(hybrid: Path) -> None:
    """With no metrics file there is no evidence: exit 1, pointing at --force."""
    before = snapshot(hybrid)
    result = run("finalize", str(hybrid))
    assert result.exit_code == 1, result.output
    assert "has the hybrid server run yet" in result.stderr
    assert "--force" in result.stderr
    assert snapshot_difference(before, snapshot(hybrid)) == []


def test_force_finalizes_before_ready_and_says_what_it_risks(hybrid: Path, ran: float) -> None:
    """--force finalizes before the earliest time, warning that opaque tokens will get 401."""
    result = run("finalize", str(hybrid), "--force")
    assert result.exit_code == 0, result.output
    assert "warning: finalizing before status is ready" in result.stderr
    assert "clients seen with them: client-a" in result.stderr
    assert phase_of(hybrid) == "final"


def test_finalize_when_ready_enters_the_final_phase(hybrid: Path, ran: float) -> None:
    """Past the earliest time finalize writes the JWT-only gate and final wiring, phase final."""
    result = run("finalize", str(hybrid), at=ran + 1)
    assert result.exit_code == 0, result.output
    assert "phase is now final" in result.stdout
    assert phase_of(hybrid) == "final"
    auth = (hybrid / "sample_legacy" / "auth.py").read_text()
    assert "oauth_migration.resolve(token, record=lambda c:" in auth
    assert "legacy=" not in auth
    wiring = (hybrid / "sample_legacy" / "oauth_migration" / "wiring.py").read_text()
    assert 'mode="final"' in wiring


# -- idempotence and rollback ----------------------------------------------------------


def test_second_finalize_has_nothing_to_do(hybrid: Path, ran: float) -> None:
    """A second finalize says there is nothing to finalize, exits 0 and changes no byte."""
    assert run("finalize", str(hybrid), at=ran + 1).exit_code == 0
    before = snapshot(hybrid)
    again = run("finalize", str(hybrid), at=ran + 1)
    assert again.exit_code == 0, again.output
    assert "nothing to finalize" in again.stdout
    plan_only = run("finalize", str(hybrid), "--plan-only")
    assert plan_only.exit_code == 0, plan_only.output
    assert snapshot_difference(before, snapshot(hybrid)) == []
    assert phase_of(hybrid) == "final"


def test_rollback_after_finalize_restores_the_hybrid_bytes(hybrid: Path, ran: float) -> None:
    """`rollback` after finalize returns every file and the state to their hybrid bytes."""
    before = snapshot(hybrid)
    assert run("finalize", str(hybrid), at=ran + 1).exit_code == 0
    assert snapshot_difference(before, snapshot(hybrid)), "finalize changed nothing"
    result = run("rollback", str(hybrid))
    assert result.exit_code == 0, result.output
    assert "phase is now hybrid" in result.stdout
    assert snapshot_difference(before, snapshot(hybrid)) == []


def test_finalize_in_the_legacy_phase_is_refused(tmp_path: Path) -> None:
    """finalize on a tree never applied exits 1 and says to run apply first."""
    root = copy_sample(tmp_path / "project")
    result = run("finalize", str(root), "--force")
    assert result.exit_code == 1, result.output
    assert "run `migrate apply` first" in result.stderr
    assert not (root / ".oauth-migration").exists()


# -- refusals like apply's -------------------------------------------------------------


def test_finalize_refuses_a_dirty_git_tree(hybrid: Path, ran: float) -> None:
    """Over uncommitted changes finalize exits 3 naming them; --allow-dirty goes ahead."""
    git(hybrid, "init", "-q")
    git(hybrid, "add", "-A")
    git(hybrid, "commit", "-q", "-m", "hybrid")
    notes = hybrid / "NOTES.txt"
    notes.write_text("uncommitted\n", encoding="utf-8")
    before = snapshot(hybrid)
    result = run("finalize", str(hybrid), at=ran + 1)
    assert result.exit_code == 3, result.output
    assert "uncommitted changes" in result.stderr and "NOTES.txt" in result.stderr
    assert snapshot_difference(before, snapshot(hybrid)) == []
    assert phase_of(hybrid) == "hybrid"
    allowed = run("finalize", str(hybrid), "--allow-dirty", at=ran + 1)
    assert allowed.exit_code == 0, allowed.output
    assert phase_of(hybrid) == "final"


def test_finalize_refuses_a_tree_edited_after_planning(
    hybrid: Path, ran: float, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file edited between the plan and the write (here: during the readiness check) -> exit 4."""
    auth = hybrid / "sample_legacy" / "auth.py"

    def status_while_someone_edits(*args: Any, **kwargs: Any) -> Any:
        auth.write_text(auth.read_text() + "\n# edited meanwhile\n", encoding="utf-8")
        return real_status(*args, **kwargs)

    monkeypatch.setattr(migrate.readiness, "status", status_while_someone_edits)
    before = snapshot(hybrid)
    result = run("finalize", str(hybrid), at=ran + 1)
    assert result.exit_code == 4, result.output
    assert "sample_legacy/auth.py" in result.stderr and "plan again" in result.stderr
    after = snapshot(hybrid)
    assert snapshot_difference(before, after) == ["changed: sample_legacy/auth.py"]
    assert phase_of(hybrid) == "hybrid"


def test_stale_final_plan_is_refused(hybrid: Path) -> None:
    """check_plan refuses a finalize plan whose input file changed since (exit 4)."""
    plan = plan_final(hybrid)
    store = hybrid / "sample_legacy" / "store.py"
    store.write_text(store.read_text() + "\n# edited\n", encoding="utf-8")
    with pytest.raises(ApplyRefused, match="sample_legacy/store.py") as refused:
        check_plan(plan, hybrid, allow_dirty=True)
    assert refused.value.exit_code == 4


# -- manual steps ----------------------------------------------------------------------

DELETE_BY_TOKEN = 'db.execute("DELETE FROM tokens WHERE token = ?", (row["access_token"],))'
DELETE_BY_USER = 'db.execute("DELETE FROM tokens WHERE username = ?", (row["username"],))'


def _flask_blueprint(tmp_path: Path, replace: tuple[str, str] | None = None) -> Path:
    root = copy_tree(FIXTURE_SERVERS / "flask_blueprint", tmp_path / "server")
    if replace is not None:
        _replace(root / "fieldnotes" / "oauth.py", *replace)
    return root


def _replace(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, old
    path.write_text(text.replace(old, new), encoding="utf-8")


def _line_of(path: Path, fragment: str) -> int:
    lines = path.read_text(encoding="utf-8").splitlines()
    found = [number for number, line in enumerate(lines, 1) if fragment in line]
    assert len(found) == 1, (fragment, found)
    return found[0]


def test_finding_2_delete_keyed_by_another_column_blocks_apply(tmp_path: Path) -> None:
    """Finding 2: apply refuses (exit 6, nothing written) a delete by username it cannot revoke."""
    root = _flask_blueprint(tmp_path, (DELETE_BY_TOKEN, DELETE_BY_USER))
    where = f"fieldnotes/oauth.py:{_line_of(root / 'fieldnotes' / 'oauth.py', DELETE_BY_USER)}"
    before = snapshot(root)
    plan_only = run("plan", str(root))
    assert f"{where}: DELETE FROM tokens keyed by username" in plan_only.stdout
    assert "Apply is blocked until these manual steps are done" in plan_only.stdout
    result = run("apply", str(root), "--yes", "--allow-dirty")
    assert result.exit_code == 6, result.output
    assert f"{where}: DELETE FROM tokens keyed by username" in result.stderr
    assert snapshot_difference(before, snapshot(root)) == []


def _hybrid_with_an_unrevokable_delete(tmp_path: Path) -> tuple[Path, Path]:
    """A hybrid tree as an older apply left it (no revoke line), its delete keyed by a
    column that is not the token; the tree and the edited module."""
    root = to_hybrid(_flask_blueprint(tmp_path))
    oauth = root / "fieldnotes" / "oauth.py"
    lines = oauth.read_text(encoding="utf-8").splitlines(keepends=True)
    kept = [line for line in lines if 'oauth_migration.revoke(row["access_token"])' not in line]
    assert len(kept) == len(lines) - 1
    oauth.write_text("".join(kept).replace(DELETE_BY_TOKEN, DELETE_BY_USER), encoding="utf-8")
    return root, oauth


def test_finding_2_delete_left_by_an_older_apply_blocks_finalize(tmp_path: Path) -> None:
    """Finding 2 and #8: a delete that cannot revoke blocks finalize, --force too (exit 6)."""
    root, oauth = _hybrid_with_an_unrevokable_delete(tmp_path)
    started = time.time()
    record_hybrid_run(root, started=started)
    before = snapshot(root)
    result = run("finalize", str(root), "--force", at=started + LIFETIME + SKEW)
    assert result.exit_code == 6, result.output
    where = f"fieldnotes/oauth.py:{_line_of(oauth, DELETE_BY_USER)}"
    assert f"{where}: DELETE FROM tokens keyed by username" in result.stderr
    assert "phase is now final" not in result.stdout
    assert snapshot_difference(before, snapshot(root)) == []
    assert phase_of(root) == "hybrid"


def test_a_blocked_finalize_says_so_before_it_says_not_ready(tmp_path: Path) -> None:
    """Blocked and not ready yet: exit 6 (waiting would not help), not 7, nothing written."""
    root, _ = _hybrid_with_an_unrevokable_delete(tmp_path)
    started = time.time()
    record_hybrid_run(root, started=started)
    before = snapshot(root)
    result = run("finalize", str(root), at=started + 1)
    assert result.exit_code == 6, result.output
    assert "keyed by username" in result.stderr
    assert snapshot_difference(before, snapshot(root)) == []


def test_finding_1_finalize_adds_revoke_where_an_older_apply_did_not(hybrid: Path) -> None:
    """Finding 1: on a tree applied without revoke-on-delete, finalize still adds it, once."""
    store = hybrid / "sample_legacy" / "store.py"
    text = store.read_text(encoding="utf-8")
    assert text.count("oauth_migration.revoke(token)") == 4
    older = "\n".join(line for line in text.splitlines() if "oauth_migration.revoke(" not in line)
    store.write_text(older + "\n", encoding="utf-8")
    plan = plan_final(hybrid)
    assert [s.id for s in plan.steps if s.id == "revoke-on-delete"] == ["revoke-on-delete"]
    after = next(c.after for c in plan.changes if c.path == "sample_legacy/store.py")
    assert after.count("oauth_migration.revoke(token)") == 4
    assert not plan.blocked_by


@pytest.mark.skipif(not ZOO_HOOK.is_dir(), reason=f"{ZOO_HOOK} is absent (no ../shared)")
def test_finding_2_zoo_delete_by_refresh_token_revokes_the_selected_row(tmp_path: Path) -> None:
    """flask_sqlite_hook's rotation deletes by refresh_token: apply revokes the row it selected."""
    root = to_hybrid(copy_tree(ZOO_HOOK, tmp_path / "server"))
    oauth = root / "mcpserver" / "oauth.py"
    line = _line_of(oauth, "DELETE FROM tokens WHERE refresh_token")
    lines = oauth.read_text(encoding="utf-8").splitlines()
    assert lines[line - 2].strip() == 'oauth_migration.revoke(row["access_token"])'
    result = run("finalize", str(root), "--plan-only")
    assert result.exit_code == 2, result.output
    assert "Manual steps: revocation" not in result.stdout


# -- real servers across the cutover ---------------------------------------------------

SAMPLE_START = Path(__file__).resolve().parents[2] / "sample_legacy" / "START"
PUNCHCARD = FIXTURE_SERVERS / "flask_sqlite_rows"


def _server(root: Path, start: Path, env: dict[str, str]) -> ServerProcess:
    return ServerProcess(command_from_start_file(start), cwd=root, log_dir=root.parent, env=env)


def _mcp(http: httpx.Client, server: ServerProcess, token: str) -> int:
    return send_initialize(http, server.base_url + "/mcp", token).status_code


def _finalize_when_ready(root: Path) -> Result:
    started = time.time()
    record_hybrid_run(root, started=started)
    return run("finalize", str(root), at=started + LIFETIME + SKEW)


def test_finding_1_hybrid_revocations_survive_finalize(tmp_path: Path) -> None:
    """Finding 1: JWTs revoked (/revoke) or rotated out while hybrid get 401 after finalize."""
    root = to_hybrid(copy_sample(tmp_path / "project"))
    env = {"SAMPLE_TOKEN_DB": str(tmp_path / "tokens.sqlite3"), "LOG_LEVEL": "warning"}
    server = _server(root, SAMPLE_START, env)
    with httpx.Client(timeout=10) as http:
        with server:
            flow = OAuthFlow(server.base_url, http)
            client, a = flow.obtain_tokens()
            _, b = flow.obtain_tokens(client)
            assert (_mcp(http, server, a.access_token), _mcp(http, server, b.access_token)) == (
                200,
                200,
            )
            flow.revoke(client, a.access_token)
            assert b.refresh_token is not None
            flow.refresh(client, b.refresh_token)
        result = _finalize_when_ready(root)
        assert result.exit_code == 0, result.output
        with server:
            assert _mcp(http, server, a.access_token) == 401
            assert _mcp(http, server, b.access_token) == 401


def test_issue_8_final_gate_reading_row_fields_answers_200(tmp_path: Path) -> None:
    """#8: a final gate reading row["revoked"] and row["user_id"] answers a JWT with 200."""
    root = to_hybrid(copy_tree(PUNCHCARD, tmp_path / "server"))
    env = {"PUNCHCARD_DB": str(tmp_path / "punchcard.sqlite3")}
    server = _server(root, PUNCHCARD / "START", env)
    with httpx.Client(timeout=10) as http:
        with server:
            flow = OAuthFlow(server.base_url, http)
            client, revoked = flow.obtain_tokens()
            flow.revoke(client, revoked.access_token)
        result = _finalize_when_ready(root)
        assert result.exit_code == 0, result.output
        with server:
            _, tokens = OAuthFlow(server.base_url, http).obtain_tokens()
            assert _mcp(http, server, tokens.access_token) == 200
            # The soft delete of the hybrid phase fed the denylist too (finding 2).
            assert _mcp(http, server, revoked.access_token) == 401


def test_issue_8_unsuppliable_record_read_blocks_finalize(tmp_path: Path) -> None:
    """#8: a gate reading a field no claim gives: finalize exits 6 naming it, writes nothing."""
    root = copy_tree(PUNCHCARD, tmp_path / "server")
    server_py = root / "punchcard" / "server.py"
    _replace(server_py, '    g.user = row["user_id"]\n',
             '    g.user = row["user_id"]\n    g.team = row["team"]\n')  # fmt: skip
    _replace(root / "punchcard" / "db.py", "revoked INTEGER NOT NULL DEFAULT 0",
             "revoked INTEGER NOT NULL DEFAULT 0, team TEXT")  # fmt: skip
    to_hybrid(root)
    started = time.time()
    record_hybrid_run(root, started=started)
    before = snapshot(root)
    result = run("finalize", str(root), "--force", at=started + LIFETIME + SKEW)
    assert result.exit_code == 6, result.output
    where = f"punchcard/server.py:{_line_of(server_py, 'g.team = row[')}"
    assert f"{where}: the gate reads `team` from the legacy record" in result.stderr
    assert snapshot_difference(before, snapshot(root)) == []
    assert phase_of(root) == "hybrid"


def test_issue_8_a_resolve_finalize_cannot_rewrite_blocks_it(hybrid: Path, ran: float) -> None:
    """#8: a hybrid resolve with its lookup passed positionally blocks finalize (exit 6)."""
    auth = hybrid / "sample_legacy" / "auth.py"
    _replace(auth, "oauth_migration.resolve(token, legacy=lambda t:",
             "oauth_migration.resolve(token, lambda t:")  # fmt: skip
    before = snapshot(hybrid)
    result = run("finalize", str(hybrid), "--force", at=ran + 1)
    assert result.exit_code == 6, result.output
    where = f"sample_legacy/auth.py:{_line_of(auth, 'oauth_migration.resolve(token, lambda t:')}"
    assert f"{where}: a call of the runtime's resolve whose legacy lookup" in result.stderr
    assert snapshot_difference(before, snapshot(hybrid)) == []
    assert phase_of(hybrid) == "hybrid"
