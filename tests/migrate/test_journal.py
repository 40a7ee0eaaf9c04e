"""Interrupted writes (issue #8): apply, finalize, rollback and key generation, killed or
interrupted at every write boundary, leave the tree unchanged or fully in the new phase.

Each case runs the real engine in a forked child that dies at one boundary: ``os._exit``
(a kill: no except block, no finally runs) or a real SIGTERM/SIGINT sent to itself (the
in-process undo runs). The parent then checks the tree byte for byte, and that the next
command (anything that reads the state) undoes what a killed child left.
"""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Callable
from functools import partial
from pathlib import Path

import pytest

from migrate import journal
from migrate.apply import apply_plan
from migrate.finalizer import plan_final
from migrate.plan import Plan
from migrate.planner import plan_hybrid
from migrate.rollback import rollback
from migrate.state import read_state
from tests.migrate.tree_support import commit_all, copy_sample, tree_bytes

Snapshot = tuple[dict[str, bytes], frozenset[str]]


def snapshot(root: Path) -> Snapshot:
    """Every file's bytes and every folder (an empty folder left behind counts too)."""
    folders = frozenset(
        p.relative_to(root).as_posix()
        for p in root.rglob("*")
        if p.is_dir() and "__pycache__" not in p.parts
    )
    return tree_bytes(root), folders


def in_child(action: Callable[[], object]) -> int:
    """Run ``action`` in a forked child; its exit code (0: it returned)."""
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child's coverage is not collected
        code = 0
        try:
            action()
        except BaseException:
            code = 3
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def boundaries(run: Callable[[journal.Hook], None]) -> list[str]:
    """The labels of every write boundary of one real run."""
    seen: list[str] = []
    run(seen.append)
    return seen


@pytest.fixture(scope="module")
def legacy(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Plan]:
    root = copy_sample(tmp_path_factory.mktemp("legacy") / "project")
    return root, plan_hybrid(root)


@pytest.fixture(scope="module")
def apply_labels(legacy: tuple[Path, Plan], tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    root = copy_sample(tmp_path_factory.mktemp("labels") / "project")
    return boundaries(lambda hook: apply_plan(legacy[1], root, write_hook=hook))


def _fresh(tmp_path: Path, name: str = "project") -> Path:
    return copy_sample(tmp_path / name)


def _die_at(label: str) -> journal.Hook:
    def hook(current: str) -> None:
        if current == label:
            os._exit(137)

    return hook


def _signal_at(label: str, signum: int) -> journal.Hook:
    def hook(current: str) -> None:
        if current == label:
            os.kill(os.getpid(), signum)

    return hook


def test_apply_has_a_boundary_before_every_write(apply_labels: list[str]) -> None:
    """The journal is written first, each file is a boundary, the commit comes last."""
    assert apply_labels[0] == "journal"
    assert apply_labels[-1] == "commit"
    assert "keys" in apply_labels
    assert sum(label.startswith("write ") for label in apply_labels) >= 20


def test_apply_killed_at_every_boundary_is_undone_by_the_next_command(
    legacy: tuple[Path, Plan], apply_labels: list[str], tmp_path: Path
) -> None:
    """Killed at any boundary, apply leaves a journal; the next command restores every
    byte (no migrated file, no key, no temporary file, no new folder)."""
    for index, label in enumerate(apply_labels):
        root = _fresh(tmp_path, f"p{index}")
        before = snapshot(root)
        assert in_child(partial(apply_plan, legacy[1], root, write_hook=_die_at(label))) == 137
        assert (root / journal.JOURNAL).exists(), label
        assert read_state(root).phase == "legacy", label
        assert snapshot(root) == before, label


def test_apply_killed_after_the_commit_is_fully_hybrid(
    legacy: tuple[Path, Plan], tmp_path: Path
) -> None:
    """Once the journal is gone the apply is complete, and the next command keeps it."""
    root = _fresh(tmp_path)

    def apply_then_die() -> None:
        apply_plan(legacy[1], root)
        os._exit(137)

    assert in_child(apply_then_die) == 137
    assert read_state(root).phase == "hybrid"
    for change in legacy[1].changes:
        assert (root / change.path).read_text(encoding="utf-8") == change.after


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_apply_interrupted_by_a_signal_undoes_itself(
    legacy: tuple[Path, Plan], apply_labels: list[str], tmp_path: Path, signum: int
) -> None:
    """Ctrl-C or SIGTERM in the middle of the writes: undone before the process ends,
    so not even a journal is left."""
    for label in (apply_labels[1], apply_labels[len(apply_labels) // 2], "keys", "commit"):
        root = _fresh(tmp_path, f"p{label.replace('/', '_')}")
        before = snapshot(root)
        code = in_child(partial(apply_plan, legacy[1], root, write_hook=_signal_at(label, signum)))
        assert code == 3, label
        assert snapshot(root) == before, label


def test_a_second_interrupt_during_the_undo_waits_for_it(
    legacy: tuple[Path, Plan], tmp_path: Path
) -> None:
    """Ctrl-C pressed twice: the second one lands while undoing and is held until the
    undo is done, so no temporary file or half-restored file is left."""
    root = _fresh(tmp_path)
    before = snapshot(root)
    original_undo = journal._undo

    def interrupted_undo(target: Path, record: journal.Journal) -> None:
        os.kill(os.getpid(), signal.SIGINT)
        original_undo(target, record)

    def action() -> None:
        journal._undo = interrupted_undo
        apply_plan(legacy[1], root, write_hook=_signal_at("keys", signal.SIGINT))

    assert in_child(action) == 3
    assert snapshot(root) == before


def test_key_generation_killed_halfway_leaves_no_private_key(
    legacy: tuple[Path, Plan], tmp_path: Path
) -> None:
    """Killed after the private key file is written but before its manifest: the next
    command removes the key with the rest (no untracked, un-ignored private key)."""
    import shims.keys

    root = _fresh(tmp_path)
    before = snapshot(root)
    real_replace = os.replace

    def replace_then_die(source: str | Path, target: str | Path) -> None:
        real_replace(source, target)
        if str(target).endswith(".pem"):
            os._exit(137)

    def action() -> None:
        shims.keys.os.replace = replace_then_die  # type: ignore[attr-defined]
        apply_plan(legacy[1], root)

    assert in_child(action) == 137
    assert list((root / ".oauth-migration" / "keys").glob("*.pem"))
    read_state(root)
    assert snapshot(root) == before


@pytest.fixture(scope="module")
def hybrid_base(legacy: tuple[Path, Plan], tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = copy_sample(tmp_path_factory.mktemp("hybrid") / "project")
    apply_plan(plan_hybrid(root), root)
    return root


def _copy_tree(source: Path, destination: Path) -> Path:
    subprocess.run(["cp", "-a", str(source), str(destination)], check=True)
    return destination


def test_rollback_killed_at_every_boundary_is_undone(hybrid_base: Path, tmp_path: Path) -> None:
    """A rollback killed anywhere is undone by the next command: still fully hybrid,
    private key included; a second rollback then completes."""
    labels = boundaries(
        lambda hook: rollback(_copy_tree(hybrid_base, tmp_path / "l"), write_hook=hook)
    )
    assert labels[0] == "journal"
    assert "remove .oauth-migration/keys" in labels
    for index, label in enumerate(labels):
        root = _copy_tree(hybrid_base, tmp_path / f"r{index}")
        before = snapshot(root)
        assert in_child(partial(rollback, root, write_hook=_die_at(label))) == 137
        assert read_state(root).phase == "hybrid", label
        assert snapshot(root) == before, label
    rollback(root)
    assert read_state(root).phase == "legacy"


def test_rollback_to_legacy_removes_the_runtime_data(hybrid_base: Path, tmp_path: Path) -> None:
    """Back to legacy, the metrics and denylist the runtime wrote go with the key (the
    restored .gitignore no longer hides them); a rollback killed while setting them aside
    puts them back."""
    root = _copy_tree(hybrid_base, tmp_path / "data")
    for name in ("metrics.sqlite3", "denylist.sqlite3", "denylist.sqlite3-wal"):
        (root / ".oauth-migration" / name).write_bytes(b"runtime data")
    before = snapshot(root)
    label = "remove .oauth-migration/metrics.sqlite3"
    assert in_child(partial(rollback, root, write_hook=_die_at(label))) == 137
    read_state(root)
    assert snapshot(root) == before
    rollback(root)
    assert not (root / ".oauth-migration").exists()


def test_finalize_killed_at_every_boundary_is_undone(hybrid_base: Path, tmp_path: Path) -> None:
    """finalize's writes go through the same journal: killed anywhere, still hybrid."""
    plan = plan_final(hybrid_base)
    assert plan.pending
    labels = boundaries(
        lambda hook: apply_plan(plan, _copy_tree(hybrid_base, tmp_path / "l"), write_hook=hook)
    )
    for index, label in enumerate(labels):
        root = _copy_tree(hybrid_base, tmp_path / f"f{index}")
        before = snapshot(root)
        assert in_child(partial(apply_plan, plan, root, write_hook=_die_at(label))) == 137
        assert read_state(root).phase == "hybrid", label
        assert snapshot(root) == before, label


def test_an_unreadable_journal_is_a_clear_error(tmp_path: Path) -> None:
    """A journal that is not one is refused with what to do, and left for a person."""
    root = _fresh(tmp_path)
    (root / journal.JOURNAL).write_text("{not json", encoding="utf-8")
    with pytest.raises(journal.WriteError, match="unreadable journal"):
        read_state(root)
    assert (root / journal.JOURNAL).exists()


def test_a_journal_naming_a_path_outside_the_tree_is_refused(tmp_path: Path) -> None:
    """Recovery writes only inside the tree, whatever a journal says."""
    root = _fresh(tmp_path / "inside")
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me\n", encoding="utf-8")
    record = journal.Journal([journal.Write("../victim.txt", None, "x")])
    (root / journal.JOURNAL).write_text(record.to_json(), encoding="utf-8")
    with pytest.raises(journal.WriteError):
        read_state(root)
    assert victim.read_text(encoding="utf-8") == "keep me\n"


def test_git_sees_nothing_after_a_killed_apply_is_recovered(
    legacy: tuple[Path, Plan], apply_labels: list[str], tmp_path: Path
) -> None:
    """In a git work tree, a recovered tree has no untracked or modified file."""
    root = _fresh(tmp_path)
    commit_all(root)
    plan = plan_hybrid(root)
    label = next(label for label in apply_labels if label == "keys")
    assert in_child(partial(apply_plan, plan, root, write_hook=_die_at(label))) == 137
    read_state(root)
    status = subprocess.run(
        ["git", "status", "--porcelain", "--ignored"], cwd=root, capture_output=True, text=True
    )
    assert status.stdout == ""
