"""`migrate finalize` and what a mint keeps beside its record, keyed by the access token.

A copy of the sample is given a side store (``ISSUED_TO[access_token] = client_id`` in
the minting module, read by a helper there). The gate lives in another module, where the
name means nothing, so the final gate cannot refill it: finalize must block (exit 6),
name the read, and write nothing, since after a restart the store would be empty for
JWTs that still verify.
"""

from __future__ import annotations

import time
from pathlib import Path

from migrate.status import SKEW
from tests.migrate.lifecycle_support import record_hybrid_run, snapshot, snapshot_difference
from tests.migrate.test_finalize import LIFETIME, phase_of, run, to_hybrid
from tests.migrate.tree_support import copy_sample

MINT = "    access_token = secrets.token_urlsafe(32)\n"
READER = '''

def issued_to(token: str) -> str | None:
    """The client a live access token was issued to."""
    return ISSUED_TO.get(token)
'''


def _with_side_store(root: Path) -> Path:
    oauth = root / "sample_legacy" / "oauth.py"
    text = oauth.read_text(encoding="utf-8")
    assert MINT in text
    text = text.replace(MINT, MINT + "    ISSUED_TO[access_token] = client_id\n")
    text = text.replace(
        "ACCESS_TOKEN_TTL = 3600", "ISSUED_TO: dict[str, str] = {}\nACCESS_TOKEN_TTL = 3600"
    )
    oauth.write_text(text + READER, encoding="utf-8")
    return oauth


def _line_of(path: Path, needle: str) -> int:
    lines = path.read_text(encoding="utf-8").splitlines()
    return next(i for i, line in enumerate(lines, 1) if needle in line)


def test_a_side_store_the_gate_cannot_reach_blocks_finalize(tmp_path: Path) -> None:
    """finalize exits 6 naming the read of the side store, and writes nothing."""
    root = copy_sample(tmp_path / "project")
    oauth = _with_side_store(root)
    to_hybrid(root)
    started = time.time()
    record_hybrid_run(root, started=started)
    before = snapshot(root)
    result = run("finalize", str(root), "--force", at=started + LIFETIME + SKEW)
    assert result.exit_code == 6, result.output
    read = f"sample_legacy/oauth.py:{_line_of(oauth, 'return ISSUED_TO.get(token)')}"
    write = f"sample_legacy/oauth.py:{_line_of(oauth, 'ISSUED_TO[access_token] = client_id')}"
    assert (
        f"{read}: a read of `ISSUED_TO`, which the mint fills by access token ({write}) "
        "and a restart empties; the gate cannot reach it"
    ) in result.stderr
    assert snapshot_difference(before, snapshot(root)) == []
    assert phase_of(root) == "hybrid"


def test_without_the_read_finalize_goes_ahead(tmp_path: Path) -> None:
    """The same side store, never read by a key, does not block finalize."""
    root = copy_sample(tmp_path / "project")
    oauth = _with_side_store(root)
    oauth.write_text(oauth.read_text(encoding="utf-8").replace(READER, "\n"), encoding="utf-8")
    to_hybrid(root)
    started = time.time()
    record_hybrid_run(root, started=started)
    result = run("finalize", str(root), "--force", at=started + LIFETIME + SKEW)
    assert result.exit_code == 0, result.output
    assert phase_of(root) == "final"
