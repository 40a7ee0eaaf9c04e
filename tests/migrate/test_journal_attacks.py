"""A hostile tree against the write engine (an adversarial review of migrate/journal.py):
a journal or state file that came with the tree never makes `migrate` write outside the
tree, into git's files, or delete the operator's key; a malformed one is one line."""

from __future__ import annotations

import json
import os
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from migrate import journal
from migrate.apply import apply_plan
from migrate.planner import plan_hybrid
from migrate.rollback import rollback
from tests.migrate.cli_support import migrate
from tests.migrate.test_journal import in_child
from tests.migrate.tree_support import commit_all, copy_sample, git, tree_bytes, write_forged


def _committed_sample(tmp_path: Path) -> Path:
    return commit_all(copy_sample(tmp_path / "project"))


def _journal(**fields: Any) -> str:
    record: dict[str, Any] = {
        "writes": [],
        "created_dirs": [],
        "keys": None,
        "keys_entries_before": [],
        "aside": [],
        "seal": "0" * 64,
    }
    record.update(fields)
    return json.dumps(record)


def test_a_journal_that_came_with_the_tree_is_never_acted_on(tmp_path: Path) -> None:
    """A journal that came with the tree (here deleting a server file, as an undo of its
    "creation") is refused untouched: this user's migrate did not write it."""
    root = _committed_sample(tmp_path)
    writes = [
        {"path": "sample_legacy/tools.py", "before": None, "after": "x", "encoding": "utf-8"},
    ]
    (root / journal.JOURNAL).write_text(_journal(writes=writes), encoding="utf-8")
    before = tree_bytes(root)
    ran = migrate("plan", ".", cwd=root)
    assert ran.code == 1, ran
    assert "did not write" in ran.stderr
    assert "Traceback" not in ran.stderr
    assert tree_bytes(root) == before


def test_even_a_sealed_journal_cannot_name_git_or_the_key(tmp_path: Path) -> None:
    """Defence in depth: a journal with this user's seal still may not write git's files,
    the key folder or anything outside; it may set aside only the kit's own entries."""
    root = copy_sample(tmp_path / "project").resolve()
    seal = journal._write_seal(root)
    for bad in (
        {"writes": [{"path": ".git/config", "before": "x", "after": None, "encoding": "utf-8"}]},
        {
            "writes": [
                {
                    "path": ".oauth-migration/keys/k.pem",
                    "before": None,
                    "after": "x",
                    "encoding": "utf-8",
                }
            ]
        },  # fmt: skip
        {"aside": ["evil/x"]},
        {"created_dirs": ["../outside"]},
    ):
        (root / journal.JOURNAL).write_text(_journal(seal=seal, **bad), encoding="utf-8")
        with pytest.raises(journal.WriteError):
            journal.recover(root)
    journal._seal_path(root).unlink()


def test_symlinked_state_folder_deletes_nothing_outside(tmp_path: Path) -> None:
    """`.oauth-migration` linked outside, with a `.removed` folder there: `status` refuses
    before it removes anything through the link."""
    outside = tmp_path / "outside"
    (outside / ".removed").mkdir(parents=True)
    (outside / ".removed" / "precious").write_text("keep\n", encoding="utf-8")
    (outside / "keys").mkdir()
    (outside / "keys" / "id_ed25519").write_text("keep\n", encoding="utf-8")
    root = copy_sample(tmp_path / "project")
    os.symlink(outside, root / ".oauth-migration")
    ran = migrate("status", ".", cwd=root)
    assert ran.code == 1, ran
    assert "symlink" in ran.stderr
    assert (outside / ".removed" / "precious").read_text(encoding="utf-8") == "keep\n"
    assert (outside / "keys" / "id_ed25519").exists()


def test_forged_state_cannot_make_rollback_write_git_config(tmp_path: Path) -> None:
    """A state file (digest recomputed) naming .git/config: rollback refuses, git's config
    is unchanged."""
    root = _committed_sample(tmp_path)
    config = (root / ".git" / "config").read_text(encoding="utf-8")
    state = {
        "phase": "hybrid",
        "history": [
            {
                "phase_from": "legacy", "phase_to": "hybrid", "kit_version": "0.1.0",
                "at": 0, "keys_generated": False, "store_persistent": True,
                "files": {".git/config": {"before": config + "[core]\n\tfsmonitor = x\n",
                                          "after": config}},
            }
        ],
    }  # fmt: skip
    (root / ".oauth-migration").mkdir()
    write_forged(root / ".oauth-migration" / "state.json", state)
    ran = migrate("rollback", "--yes", ".", cwd=root)
    assert ran.code == 1, ran
    assert (root / ".git" / "config").read_text(encoding="utf-8") == config


@pytest.mark.parametrize(
    "text",
    [
        _journal(writes=[{"path": "a.py", "before": 5, "after": None, "encoding": "utf-8"}]),
        _journal(writes=[{"path": "a.py", "before": None, "after": "x", "encoding": "nope"}]),
        _journal(created_dirs=5),
        _journal(aside=[5]),
        "[" * 100_000,
        "[]",
    ],
    ids=["before-int", "encoding", "dirs-int", "aside-int", "deep", "list"],
)
def test_a_malformed_journal_is_one_line(tmp_path: Path, text: str) -> None:
    """Every malformed journal is refused with one line, no traceback, and left in place."""
    root = copy_sample(tmp_path / "project")
    (root / journal.JOURNAL).write_text(text, encoding="utf-8")
    ran = migrate("plan", ".", cwd=root)
    assert ran.code == 1, ran
    assert "Traceback" not in ran.stderr
    assert len(ran.stderr.strip().splitlines()) == 1, ran.stderr
    assert (root / journal.JOURNAL).exists()


def test_a_rollback_killed_at_its_commit_leaves_no_key_unignored(tmp_path: Path) -> None:
    """Killed after the legacy .gitignore is back but before the journal is gone: git sees
    no private key (the key folder ignores itself), and the next command undoes it."""
    root = _committed_sample(tmp_path)
    apply_plan(plan_hybrid(root), root)
    git(root, "add", "-A")
    git(root, "commit", "-qm", "hybrid")

    def die_at_commit(label: str) -> None:
        if label == "commit":
            os._exit(137)

    assert in_child(partial(rollback, root, write_hook=die_at_commit)) == 137
    assert ".pem" not in git(root, "status", "--porcelain")
    migrate("plan", ".", cwd=root)  # any command that reads the tree recovers
    assert git(root, "status", "--porcelain") == ""


def test_apply_takes_a_relative_path(tmp_path: Path) -> None:
    """`migrate apply --yes .` from inside the tree works (it was refused as 'a symlink')."""
    root = _committed_sample(tmp_path)
    ran = migrate("apply", "--yes", ".", cwd=root)
    assert ran.code == 0, ran
