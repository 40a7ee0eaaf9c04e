"""A worker forked from a process whose Redis denylist poller is mid-read (gunicorn
--preload during a Redis outage) must not inherit the poller's held lock: it would hang
on its first token check (shims/redis_denylist.py ``_ensure_poller``).

The outage is a real listening socket on 127.0.0.1 that never answers: connects succeed
and every read runs into the client's timeout, so the poller holds its lock for most of
each cycle."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator

import pytest

from shims.redis_denylist import RedisDenylist

CHILD_TIMEOUT = 5.0


@pytest.fixture
def silent_port() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(64)  # never accepted: the kernel completes the handshakes, nobody reads
        yield sock.getsockname()[1]


def _child_check(denylist: RedisDenylist) -> int:
    """In the forked child: 0 if a token check answers within CHILD_TIMEOUT, else 1."""
    answered = threading.Event()

    def check() -> None:
        _ = "some-jti" in denylist
        answered.set()

    threading.Thread(target=check, daemon=True).start()
    return 0 if answered.wait(CHILD_TIMEOUT) else 1


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_worker_forked_during_a_read_answers_its_first_check(silent_port: int) -> None:
    denylist = RedisDenylist(f"redis://127.0.0.1:{silent_port}/0")
    try:
        deadline = time.monotonic() + 10
        while not denylist._sync_lock.locked():  # the poller is inside a read
            assert time.monotonic() < deadline, "the poller never started a read"
            time.sleep(0.005)
        pid = os.fork()
        if pid == 0:  # the worker
            code = 2
            try:
                code = _child_check(denylist)
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0, "the forked worker hung on its check"
    finally:
        denylist.close()
