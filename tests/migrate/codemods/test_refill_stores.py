"""refill-stores (part of the final gate): what the mint keys by the access token
beside its record is written again from the verified claims, so it survives a restart."""

from __future__ import annotations

import os
from pathlib import Path

import libcst as cst
import pytest

from migrate.codemods.edits import rewrite
from migrate.codemods.final_gate import final_gate
from migrate.scan.record_writes import find_record_writes
from migrate.scan.source import SourceTree

CASES = Path(__file__).parent / "refill_cases"  # hybrid trees: before/after pairs
UPDATE = os.environ.get("UPDATE_SNAPSHOTS") == "1"


def _final(tmp_path: Path, text: str) -> tuple[str, list[str]]:
    (tmp_path / "app.py").write_text(text, encoding="utf-8")
    tree = SourceTree(tmp_path)
    [write], _ = find_record_writes(tree)
    source = tree.files["app.py"]
    edits, manual = final_gate(source, write, tree, sdk="AccessToken(" in text)
    return rewrite(source.module, edits), [f"{m.where}: {m.expected}" for m in manual]


@pytest.mark.parametrize("case", sorted(p.name for p in CASES.iterdir() if p.is_dir()))
def test_snapshot(case: str, tmp_path: Path) -> None:
    """Each fixture's final gate matches its ``after.py.txt``, parses, and has no manual step."""
    before = (CASES / case / "before.py.txt").read_text(encoding="utf-8")
    after, manual = _final(tmp_path, before)
    expected = CASES / case / "after.py.txt"
    if UPDATE:
        expected.write_text(after, encoding="utf-8")
    assert manual == []
    cst.parse_module(after)
    assert after == expected.read_text(encoding="utf-8")


@pytest.mark.parametrize("case", sorted(p.name for p in CASES.iterdir() if p.is_dir()))
def test_final_output_is_left_alone(case: str, tmp_path: Path) -> None:
    """The final gate's own output gets no second builder (idempotent)."""
    after = (CASES / case / "after.py.txt").read_text(encoding="utf-8")
    assert _final(tmp_path, after) == (after, [])


def test_no_side_store_no_edit(tmp_path: Path) -> None:
    """With nothing kept beside the record, the record stays a lambda: no builder function."""
    before = (CASES / "no_side_store" / "before.py.txt").read_text(encoding="utf-8")
    after, _ = _final(tmp_path, before)
    assert "record=lambda c: " in after and "_record_from_claims" not in after


def test_only_the_access_key_of_a_chained_write_is_refilled(tmp_path: Path) -> None:
    """``owners[access] = owners[refresh] = user`` refills the access key only, and the
    ``refresh -> access`` pairing (keyed by another token) not at all."""
    before = (CASES / "provider_class" / "before.py.txt").read_text(encoding="utf-8")
    after, _ = _final(tmp_path, before)
    assert "self.user_by_token[c.token] = c.sub" in after
    assert after.count("c.token] =") == 1


HEADER = """from .oauth_migration.wiring import migration as oauth_migration

TOKENS = {}
LABELS = {}


def issue(user_id, client_id, request):
    token = oauth_migration.mint_access_token(subject=user_id, client_id=client_id)
    TOKENS[token] = {"user": user_id}
    LABELS[token] = request.headers["x-label"]
    return token


def gate(token):
    return oauth_migration.resolve(token, legacy=lambda t: TOKENS.get(t))
"""


def test_a_value_no_claim_gives_blocks_where_it_is_read(tmp_path: Path) -> None:
    """A side store whose value no claim gives, read elsewhere, is a blocking step at the
    read; it is not refilled (with None) either."""
    after, manual = _final(tmp_path, HEADER + "\n\ndef label(token):\n    return LABELS[token]\n")
    assert manual == [
        "app.py:19: a read of `LABELS`, which the mint fills by access token (app.py:10) "
        "and a restart empties; no JWT claim gives its value"
    ]
    assert "LABELS[c.token]" not in after


def test_a_value_no_claim_gives_never_read_is_no_step(tmp_path: Path) -> None:
    """The same side store, never read by a key, neither blocks nor is refilled."""
    after, manual = _final(tmp_path, HEADER)
    assert manual == []
    assert "LABELS[c.token]" not in after and "_record_from_claims" not in after


OTHER_CLASS = """from .oauth_migration.wiring import migration as oauth_migration


class Issuer:
    def __init__(self):
        self.tokens = {}
        self.owners = {}

    def issue(self, user, client):
        token = oauth_migration.mint_access_token(subject=user, client_id=client)
        self.tokens[token] = {"user": user}
        self.owners[token] = user
        return token

    def owner(self, token):
        return self.owners.get(token)


class Gate:
    def __init__(self, issuer):
        self.issuer = issuer

    def check(self, token):
        return oauth_migration.resolve(token, legacy=lambda t: self.issuer.tokens.get(t))
"""


def test_a_store_of_another_class_blocks_where_it_is_read(tmp_path: Path) -> None:
    """``self.owners`` of the minting class means nothing in another class's gate: the
    read is a blocking step, and no refill is written where ``self`` is another object."""
    after, manual = _final(tmp_path, OTHER_CLASS)
    assert manual == [
        "app.py:16: a read of `self.owners`, which the mint fills by access token "
        "(app.py:12) and a restart empties; the gate cannot reach it"
    ]
    assert "self.owners[c.token]" not in after


ELIF = """from .oauth_migration.wiring import migration as oauth_migration

TOKENS = {}
OWNERS = {}


def issue(user):
    token = oauth_migration.mint_access_token(subject=user, client_id="c")
    TOKENS[token] = {"user": user}
    OWNERS[token] = user
    return token


def gate(token, anonymous):
    if anonymous:
        return None
    elif oauth_migration.resolve(token, legacy=lambda t: TOKENS.get(t)) is not None:
        return OWNERS.get(token)
    return None
"""


def test_a_resolve_in_an_elif_test_blocks_where_the_store_is_read(tmp_path: Path) -> None:
    """No function can be defined before an ``elif`` test: the read is a blocking step and
    the resolve keeps its lambda (the rewrite still parses)."""
    after, manual = _final(tmp_path, ELIF)
    assert manual == [
        "app.py:18: a read of `OWNERS`, which the mint fills by access token (app.py:10) "
        "and a restart empties; the gate cannot reach it"
    ]
    assert "record=lambda c: " in after
    cst.parse_module(after)


def test_a_computed_value_read_elsewhere_blocks(tmp_path: Path) -> None:
    """A side store holding a call's result (``time.time()``), which no claim gives, is
    a side store too: read elsewhere, it blocks; the record's own dict does not."""
    text = HEADER.replace('request.headers["x-label"]', "time.time()")
    after, manual = _final(
        tmp_path, "import time\n" + text + "\n\ndef label(t):\n    return LABELS[t]\n"
    )
    assert [m.split(": ", 1)[1] for m in manual] == [
        "a read of `LABELS`, which the mint fills by access token (app.py:11) "
        "and a restart empties; no JWT claim gives its value"
    ]
    assert '"user": c.sub' in after
