"""Bad input, as a newcomer tried it: each case exits with its documented code and one
line that says what is wrong and where, never a traceback.

The case numbers are those of the newcomer trial's bad-input table (Part 2).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.migrate.cli_support import Ran, migrate
from tests.migrate.test_status import record_hybrid_run
from tests.migrate.tree_support import copy_sample, tree_bytes
from tests.support.server_process import free_port

PATH_COMMANDS = ["plan", "apply", "status", "finalize", "rollback"]


def no_traceback(ran: Ran) -> None:
    assert "Traceback" not in ran.stdout + ran.stderr, ran


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return copy_sample(tmp_path / "project")


@pytest.mark.parametrize("command", PATH_COMMANDS)
def test_case_1_missing_path_is_no_such_folder(tmp_path: Path, command: str) -> None:
    """Cases 1 and 1b: a PATH that does not exist is "no such folder", exit 1, first."""
    missing = tmp_path / "does-not-exist"
    ran = migrate(command, str(missing))
    assert ran.code == 1, ran
    assert ran.first_line == f"Error: {missing}: no such folder"
    no_traceback(ran)


@pytest.mark.parametrize("command", PATH_COMMANDS)
def test_case_2_a_file_as_path_is_a_usage_error(project: Path, command: str) -> None:
    """Case 2: a file given as PATH exits 64 (not 2, "pending") with a plain message."""
    app = project / "sample_legacy" / "app.py"
    ran = migrate(command, str(app))
    assert ran.code == 64, ran
    assert ran.first_line == f"Error: {app}: is a file; give the folder of the server"


def test_case_3_empty_folder_plan_exits_0(tmp_path: Path) -> None:
    """Case 3: an empty folder: no legacy authorization server, no step, exit 0."""
    ran = migrate("plan", str(tmp_path))
    assert ran.code == 0, ran
    assert ran.first_line == (
        f"no legacy authorization server found under {tmp_path}: nothing to migrate."
    )


@contextmanager
def _immutable(path: Path, recursive: bool) -> Iterator[None]:
    """``chattr +i`` (root ignores file modes); skips where the flag is unsupported."""
    flags = ["-R"] if recursive else []
    try:
        done = subprocess.run(["chattr", *flags, "+i", str(path)], capture_output=True, check=False)
    except OSError:
        pytest.skip("no chattr on this machine")
    if done.returncode != 0:
        pytest.skip(f"chattr +i is not supported here: {done.stderr.decode().strip()}")
    try:
        yield
    finally:
        subprocess.run(["chattr", *flags, "-i", str(path)], capture_output=True, check=False)


@pytest.mark.parametrize(
    ("case", "immutable", "named"),
    [
        ("9", ".", ""),
        ("9b", "sample_legacy", "sample_legacy/oauth_migration:"),
        ("9c", "sample_legacy/auth.py", "sample_legacy/auth.py"),
    ],
)
def test_case_9_read_only_tree_is_one_line(
    project: Path, case: str, immutable: str, named: str
) -> None:
    """Cases 9-9c: an immutable tree, folder or file: exit 1, one line naming it, untouched."""
    before = tree_bytes(project)
    target = project / immutable
    with _immutable(target, recursive=target.is_dir()):
        ran = migrate("apply", "--yes", str(project))
    assert ran.code == 1, ran
    assert ran.first_line.startswith(
        f"Error: {project}/{named}" if named else f"Error: {project}:"
    ), ran
    assert ran.first_line.endswith(
        "Operation not permitted; check its permissions (and `lsattr` for the immutable "
        "flag), then run again"
    ), ran
    no_traceback(ran)
    assert tree_bytes(project) == before


def test_case_11_no_git_says_the_key_could_not_be_ignored(project: Path) -> None:
    """Case 11: outside git, apply does not claim the key is git-ignored."""
    ran = migrate("apply", "--yes", str(project), cwd=project)
    assert ran.code == 0, ran
    assert ran.stdout.splitlines()[0] == (
        "generated a signing key in .oauth-migration/keys; it could not be git-ignored "
        f"({project} is not in a git work tree): keep that folder out of version control"
    )
    assert "(git-ignored)" not in ran.stdout


def _finalized(project: Path) -> Path:
    assert migrate("apply", "--yes", str(project)).code == 0
    started = time.time()
    record_hybrid_run(project, started=started)
    later = {"OAUTH_MIGRATE_NOW": str(started + 2 * 3600)}
    ran = migrate("finalize", "--yes", "--allow-dirty", str(project), env=later)
    assert ran.code == 0, ran
    return project


def test_case_12b_final_tree_is_not_called_hybrid(project: Path) -> None:
    """Case 12b: plan and apply on a final-phase tree name the final phase; status exits 0."""
    _finalized(project)
    plan = migrate("plan", str(project))
    assert plan.code == 0, plan
    assert plan.stdout.splitlines()[0].endswith("(final: nothing to change)")
    apply = migrate("apply", "--yes", str(project))
    assert apply.stdout == "nothing to apply: the tree is already in the final phase\n"
    status = migrate("status", str(project))
    assert (status.code, status.stdout.splitlines()[0]) == (
        0,
        "phase: final; finalize is done: JWT only, nothing to wait for",
    )


def test_case_16b_finalize_without_metrics_asks_once(project: Path) -> None:
    """Case 16b: no metrics yet: one question, not two, and the way out (--force)."""
    assert migrate("apply", "--yes", str(project)).code == 0
    ran = migrate("finalize", "--yes", str(project))
    assert ran.code == 1, ran
    metrics = project.resolve() / ".oauth-migration" / "metrics.sqlite3"
    assert ran.first_line == (
        f"Error: metrics file {metrics} does not exist: has the hybrid server run yet? "
        "(or finalize anyway with --force)"
    )


@pytest.mark.parametrize("content", ["[]", '"hybrid"', '{"phase": "hybrid", "history": 3}'])
@pytest.mark.parametrize("command", ["plan", "status", "finalize", "rollback"])
def test_case_17b_state_file_of_the_wrong_shape(project: Path, command: str, content: str) -> None:
    """Case 17b: state.json that is a list or a string: exit 1, one line with the remedy."""
    state = project / ".oauth-migration" / "state.json"
    state.parent.mkdir()
    state.write_text(content, encoding="utf-8")
    ran = migrate(command, str(project))
    assert ran.code == 1, ran
    assert ran.first_line.startswith(f"Error: {state}: not an oauth-migrate state file (it holds ")
    assert ran.first_line.endswith("`git checkout -- .oauth-migration/state.json`")


def test_case_19d_apply_plan_names_the_tree_it_wrote(project: Path, tmp_path: Path) -> None:
    """Case 19d: `apply --plan` run from elsewhere says which tree it changed."""
    saved = tmp_path / "p.json"
    assert migrate("plan", "--out", str(saved), str(project)).code == 2
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    ran = migrate("apply", "--plan", str(saved), cwd=elsewhere)
    assert ran.code == 0, ran
    count = len(json.loads(saved.read_text(encoding="utf-8"))["changes"])
    assert f"wrote {count} files in {project.resolve()}; phase is now hybrid" in ran.stdout


def test_case_20_plan_out_into_a_missing_folder(project: Path, tmp_path: Path) -> None:
    """Case 20: `plan --out` into a folder that does not exist: exit 1 at once, one line."""
    out = tmp_path / "nonexistent" / "p.json"
    ran = migrate("plan", "--out", str(out), str(project))
    assert ran.code == 1, ran
    assert ran.first_line == f"Error: --out {out}: no such folder {out.parent}"
    assert ran.stdout == ""


@pytest.mark.parametrize(
    ("case", "args", "expected"),
    [
        ("22f", ["ftp://x"], "'ftp://x' is not an http(s) URL such as http://127.0.0.1:8000"),
        ("22g", ["http://[::1"], "'http://[::1' is not a valid URL (Invalid IPv6 URL)"),
        ("22h", ["http://127.0.0.1:1", "--timeout", "-1"], "-1.0 is not in the range x>0."),
        ("22h", ["http://127.0.0.1:1", "--timeout", "0"], "0.0 is not in the range x>0."),
        ("22i", ["http://127.0.0.1:1/?x=1#f"], "without ?query or #fragment"),
    ],
)
def test_case_22_bad_verify_arguments_are_usage_errors(
    case: str, args: list[str], expected: str
) -> None:
    """Cases 22f-22i: a bad URL or timeout exits 64 with one line, no traceback."""
    ran = migrate("verify", *args)
    assert ran.code == 64, ran
    assert ran.first_line.startswith("Error: Invalid value for "), ran
    assert expected in ran.first_line
    assert ran.first_line.endswith("(see migrate verify --help)")
    no_traceback(ran)


def test_case_22_closed_port_says_cannot_connect_once() -> None:
    """Case 22: nothing listening: one FAIL line "cannot connect", exit 8."""
    port = free_port()
    ran = migrate("verify", f"http://127.0.0.1:{port}")
    assert ran.code == 8, ran
    lines = ran.stdout.splitlines()
    assert lines[0].split(maxsplit=2)[:2] == ["FAIL", "connect"]
    assert f"cannot connect to http://127.0.0.1:{port}: ConnectError" in lines[0]
    assert lines[1:] == ["verify: 0 passed, 1 failed, 0 warnings, 0 skipped"]


def _hybrid_with_metrics(project: Path) -> Path:
    assert migrate("apply", "--yes", str(project)).code == 0
    record_hybrid_run(project, started=time.time())
    return project / ".oauth-migration" / "metrics.sqlite3"


def test_case_23_truncated_metrics_file_is_one_line(project: Path) -> None:
    """Case 23: a truncated metrics.sqlite3: exit 1, "is damaged" and what to do."""
    metrics = _hybrid_with_metrics(project)
    for extra in ("-wal", "-shm"):
        Path(str(metrics) + extra).unlink(missing_ok=True)
    data = metrics.read_bytes()
    metrics.write_bytes(data[: len(data) // 2])
    ran = migrate("status", str(project))
    assert ran.code == 1, ran
    assert ran.first_line == (
        f"Error: {metrics.resolve()} is damaged (database disk image is malformed): restore "
        "it from a backup, or delete it and let the hybrid servers record a new one (the "
        "wait then starts again)"
    ), ran
    no_traceback(ran)


def test_case_23b_garbage_metrics_asks_once(project: Path) -> None:
    """Case 23b: a metrics file that is not a database: the question is asked once."""
    metrics = _hybrid_with_metrics(project)
    for extra in ("-wal", "-shm"):
        Path(str(metrics) + extra).unlink(missing_ok=True)
    metrics.write_bytes(b"not a database at all" * 100)
    ran = migrate("status", str(project))
    assert ran.code == 1, ran
    assert ran.first_line.count("yet?") == 1, ran


def test_case_24_blocked_plan_exits_6(project: Path) -> None:
    """Case 24: an app built through an alias blocks apply: plan exits 6, not 2."""
    app = project / "sample_legacy" / "app.py"
    text = app.read_text(encoding="utf-8")
    app.write_text(
        text.replace("    app = Starlette(", "    app = _make(") + "\n_make = Starlette\n",
        encoding="utf-8",
    )
    ran = migrate("plan", str(project))
    assert ran.code == 6, ran
    assert "Apply is blocked until these manual steps are done" in ran.stdout
    assert ran.stdout.splitlines()[-1] == (
        "next: do the manual steps above, then `migrate plan` again"
    )


@pytest.mark.parametrize("sent", [signal.SIGINT, signal.SIGTERM])
def test_case_25_ctrl_c_is_one_line_and_exit_130(sent: signal.Signals) -> None:
    """Case 25: SIGINT (or SIGTERM) while verify waits on a silent server: 130, one line."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]
        proc = subprocess.Popen(
            [sys.executable, "-m", "migrate", "verify", f"http://127.0.0.1:{port}"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "OAUTH_MIGRATE_PROGRESS_AFTER": "3600"},
        )
        with proc:
            connection, _ = listener.accept()  # the command is now waiting for an answer
            with connection:
                proc.send_signal(sent)
                stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, (stdout, stderr)
    assert stderr.strip().splitlines() == [
        "Error: interrupted: the command stopped (apply and rollback undo an unfinished write)"
    ]


def test_case_18f_tampered_plan_without_changes_prints_no_traceback(
    project: Path, tmp_path: Path
) -> None:
    """Case 18f (plan validation is another change): at the CLI, no traceback at least."""
    saved = tmp_path / "p.json"
    assert migrate("plan", "--out", str(saved), str(project)).code == 2
    data = json.loads(saved.read_text(encoding="utf-8"))
    data["changes"] = {}
    saved.write_text(json.dumps(data), encoding="utf-8")
    no_traceback(migrate("apply", "--plan", str(saved)))


def test_case_html_bodies_are_cut_short() -> None:
    """Case 22c: a whole HTML page is not pasted into a check line."""
    from migrate.verify.client import Answer

    page = "<html><head><title>Welcome to nginx!</title></head><body>" + "x " * 500 + "</body>"
    described = Answer("GET http://h/", 200, {"content-type": "text/html"}, page).describe()
    assert described.startswith("GET http://h/ -> 200: Welcome to nginx! x x")
    assert len(described) < 120
    assert "<" not in described


def test_case_11_finalize_outside_git_warns_about_the_key_folder(project: Path) -> None:
    """Case 11: finalize outside git says the key folder could not be git-ignored."""
    assert migrate("apply", "--yes", str(project)).code == 0
    started = time.time()
    record_hybrid_run(project, started=started)
    later = {"OAUTH_MIGRATE_NOW": str(started + 2 * 3600)}
    ran = migrate("finalize", "--yes", str(project), env=later)
    assert ran.code == 0, ran
    assert ran.stdout.splitlines()[1] == (
        "warning: the key folder could not be git-ignored (not a git work tree): "
        "keep .oauth-migration/keys out of version control"
    )


def test_case_11_inside_git_the_key_is_git_ignored(project: Path) -> None:
    """In a git work tree apply's .gitignore really ignores the key, and it says so."""
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid"]
    subprocess.run([*git, "init", "-q"], cwd=project, check=True)
    subprocess.run([*git, "add", "-A"], cwd=project, check=True)
    subprocess.run([*git, "commit", "-q", "-m", "legacy"], cwd=project, check=True)
    ran = migrate("apply", "--yes", str(project))
    assert ran.code == 0, ran
    assert ran.stdout.splitlines()[0] == (
        "generated a signing key in .oauth-migration/keys (git-ignored)"
    )


# -- cases other changes fix: here only "no traceback at the CLI" ----------------------


def test_case_6_latin1_file_prints_no_traceback(project: Path) -> None:
    """Case 6 (encodings are another change): a PEP 263 latin-1 file gives no traceback."""
    odd = project / "sample_legacy" / "legacy_notes.py"
    odd.write_bytes(b"# -*- coding: latin-1 -*-\nNOTE = 'caf\xe9'\n")
    no_traceback(migrate("plan", str(project)))


def test_case_8_symlink_loops_print_no_traceback(project: Path) -> None:
    """Case 8 (symlinks are another change): loops and dangling links give no traceback."""
    (project / "sample_legacy" / "up").symlink_to("..")
    (project / "sample_legacy" / "dangling.py").symlink_to("missing.py")
    ran = migrate("plan", str(project))
    assert ran.code == 2, ran
    no_traceback(ran)


def test_case_17e_unknown_phase_prints_no_traceback(project: Path) -> None:
    """Case 17e (state validation is another change): `"phase": "banana"`, no traceback."""
    assert migrate("apply", "--yes", str(project)).code == 0
    state = project / ".oauth-migration" / "state.json"
    data = json.loads(state.read_text(encoding="utf-8"))
    state.write_text(json.dumps({**data, "phase": "banana"}), encoding="utf-8")
    for command in ("plan", "status"):
        no_traceback(migrate(command, str(project)))


def test_case_19_stale_plan_names_each_file_once(project: Path, tmp_path: Path) -> None:
    """Case 19: a file edited after `plan --out`: exit 4, the file named once."""
    saved = tmp_path / "p.json"
    assert migrate("plan", "--out", str(saved), str(project)).code == 2
    oauth = project / "sample_legacy" / "oauth.py"
    oauth.write_text(oauth.read_text(encoding="utf-8") + "\n# a later fix\n", encoding="utf-8")
    ran = migrate("apply", "--plan", str(saved))
    assert ran.code == 4, ran
    assert ran.first_line == (
        "Error: the tree changed since the plan was made: sample_legacy/oauth.py; plan again"
    )
