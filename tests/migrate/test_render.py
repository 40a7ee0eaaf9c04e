"""The plan as text and JSON: findings, the recipe line, steps, manual steps, the diff."""

from __future__ import annotations

import json
from pathlib import Path

import click

from migrate.plan import FileChange, Plan, Step, content_digest
from migrate.render import (
    after_write,
    colour_diff,
    key_folder_ignored,
    keys_line,
    manual_steps_left,
    plan_document,
    render_text,
    unified_diff,
)
from migrate.scan.findings import Finding, ManualStep
from tests.migrate.tree_support import commit_all

BEFORE = "import secrets\n\n\ndef issue():\n    return secrets.token_hex()\n"
AFTER = (
    "import secrets\nfrom oauth_migration.wiring import migration as oauth_migration\n\n\n"
    "def issue():\n    return oauth_migration.mint_access_token()\n"
)


def _plan(**fields: object) -> Plan:
    plan = Plan("/srv/notes", "legacy", "hybrid")
    for name, value in fields.items():
        setattr(plan, name, value)
    return plan


def _blocking() -> ManualStep:
    return ManualStep(
        "notes/auth.py:9",
        "a bearer-token lookup the kit can read",
        "wrap the lookup in oauth_migration.resolve",
        "Manual steps: gates",
        blocks_apply=True,
        found="TOKENS[token] with no test for a missing key",
    )


def test_findings_are_aligned_under_one_heading() -> None:
    """Each finding is one line: kind, where (padded to the longest), detail."""
    plan = _plan(findings=[Finding("mint", "a.py:3", "secrets.token_hex"),
                           Finding("gate", "notes/b.py:12", "TOKENS.get")])  # fmt: skip
    text = render_text(plan)
    assert "Findings\n  mint      a.py:3         secrets.token_hex\n" in text
    assert "  gate      notes/b.py:12  TOKENS.get\n" in text


def test_the_recipe_line_names_the_shape_and_its_first_evidence() -> None:
    """The chosen recipe is printed with up to five pieces of evidence, then a count."""
    evidence = [Finding("mint", f"a.py:{n}", "") for n in range(1, 8)]
    text = render_text(_plan(recipe="hand-written (Starlette)", evidence=evidence))
    assert "Server shape: hand-written (Starlette), recognised by\n  mint      a.py:1\n" in text
    assert "  mint      a.py:5\n  ... and 2 more\n" in text
    assert "a.py:6" not in text
    assert "Server shape" not in render_text(_plan())


def test_a_blocking_manual_step_is_flagged_and_listed_as_a_blocker() -> None:
    """blocks_apply (a field, not wording) adds the [blocks] flag; blocked_by gets its own list."""
    step = _blocking()
    text = render_text(_plan(manual=[step], blocked_by=[step.blocker]))
    assert (
        "  notes/auth.py:9: a bearer-token lookup the kit can read"
        "  [blocks: nothing is written until it is done]\n"
        "      found: TOKENS[token] with no test for a missing key\n"
        "      do by hand: wrap the lookup in oauth_migration.resolve\n"
        "      see MIGRATION.md, Manual steps: gates\n"
    ) in text
    assert "Apply is blocked until these manual steps are done (then plan again)\n" \
        "  notes/auth.py:9: a bearer-token lookup the kit can read\n" in text  # fmt: skip
    assert text.rstrip().endswith(
        "Plan: 0 steps, 0 files to change, 0 to create, 1 manual (blocked)"
    )


def test_a_manual_step_that_does_not_block_has_no_flag() -> None:
    """The same step with blocks_apply False: no flag, no blocked list, no found line when empty."""
    step = ManualStep("notes/auth.py:9", "expected", "how", "guide")
    text = render_text(_plan(manual=[step]))
    assert "  notes/auth.py:9: expected\n      do by hand: how\n" in text
    assert "[blocks" not in text and "Apply is blocked" not in text and "found:" not in text


def test_steps_list_their_files_and_the_runtime_is_listed_apart() -> None:
    """A safe step lists its files; emitted runtime files appear under Runtime, not the diff."""
    plan = _plan(
        steps=[Step("mint-jwt", "mint JWTs", "safe", ["notes/a.py"]),
               Step("emit-runtime", "add the runtime package", "safe", ["oauth_migration/x.py"])],
        changes=[FileChange("notes/a.py", BEFORE, AFTER),
                 FileChange("oauth_migration/x.py", None, "x = 1\n", emitted=True)],
    )  # fmt: skip
    text = render_text(plan)
    assert "   1. mint-jwt         safe    mint JWTs\n        notes/a.py\n" in text
    assert "   2. emit-runtime     safe    add the runtime package\n\nRuntime" in text
    assert "Runtime package (1 file, created from shims/)\n  oauth_migration/x.py\n" in text
    assert "+++ b/notes/a.py" in text and "oauth_migration/x.py\n+" not in text
    assert "Plan: 2 steps, 1 file to change, 1 to create, 0 manual (pending)" in text


def test_an_empty_plan_says_there_is_nothing_to_change() -> None:
    text = render_text(_plan())
    assert text.startswith("oauth-migrate plan for /srv/notes (legacy: nothing to change)\n")
    assert "  nothing to do\n" in text and "(nothing to do)" in text


def test_the_diff_is_unified_and_coloured_only_on_request() -> None:
    """A created file diffs from /dev/null; colour marks + and - lines, and only when asked."""
    plan = _plan(changes=[FileChange("n.py", None, "x = 1\n"), FileChange("a.py", BEFORE, AFTER)])
    diff = unified_diff(plan)
    assert diff.startswith("--- /dev/null\n+++ b/n.py\n")
    assert (
        "-    return secrets.token_hex()\n+    return oauth_migration.mint_access_token()" in diff
    )
    coloured = colour_diff(diff)
    assert click.style("+x = 1", fg="green") in coloured
    assert click.unstyle(coloured) == diff
    assert "\x1b[" not in render_text(plan) and "\x1b[" in render_text(plan, colour=True)


def test_the_json_document_carries_the_digest_of_its_fields() -> None:
    """plan_document is the saved plan's fields, their digest, and whether anything is pending."""
    document = plan_document(_plan(manual=[_blocking()]))
    digest = document.pop("digest")
    pending = document.pop("pending")
    assert (pending, digest) == (False, content_digest(document))
    assert document["manual"][0]["blocks_apply"] is True
    json.dumps(document)


def test_a_line_is_moved_to_where_it_is_after_the_write() -> None:
    """``a.py:4`` (the def) is line 5 once an import line is added above it."""
    plan = _plan(changes=[FileChange("a.py", BEFORE, AFTER)])
    assert after_write("a.py:4", plan) == "a.py:5"
    assert after_write("other.py:4", plan) == "other.py:4"
    assert after_write("(whole tree)", plan) == "(whole tree)"
    plan.manual = [ManualStep("a.py:4", "e", "do it", "g")]
    assert manual_steps_left(plan) == ["manual step left: a.py:5: do it"]


def test_the_keys_line_says_whether_git_ignores_the_key(tmp_path: Path) -> None:
    """Outside a git work tree the key is not ignored and the line says so; inside, it is."""
    assert key_folder_ignored(tmp_path) is False
    assert "could not be git-ignored" in keys_line(tmp_path)
    (tmp_path / ".gitignore").write_text(".oauth-migration/\n", encoding="utf-8")
    commit_all(tmp_path)
    assert keys_line(tmp_path) == "generated a signing key in .oauth-migration/keys (git-ignored)"
