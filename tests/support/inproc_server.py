"""Serve an ASGI app (uvicorn) or a WSGI app (waitress) on 127.0.0.1 from a background thread.

For tests that need real HTTP against an app object built in the test process (so the test
can share its key ring, clock or legacy store with the server)::

    with serve_asgi(app) as base_url:
        httpx.get(base_url + "/mcp")

The listening socket is bound before the server starts (port 0, so the kernel picks a free
port and no other process can take it in between), and the context manager returns only
once the server accepts connections. Header limits are raised above the servers' defaults
so tests of oversized tokens reach the application rather than the HTTP parser.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn
from waitress.server import create_server

MAX_HEADER_BYTES = 512 * 1024
STARTUP_TIMEOUT = 10.0


def _bound_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


def _wait_for(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not start within {STARTUP_TIMEOUT} s")
        time.sleep(0.01)


@contextmanager
def serve_asgi(app: Any) -> Iterator[str]:
    """Run ``app`` under uvicorn (h11) in a thread; yields ``http://127.0.0.1:<port>``."""
    sock = _bound_socket()
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app,
        http="h11",
        ws="none",
        lifespan="off",
        log_level="warning",
        access_log=False,
        h11_max_incomplete_event_size=MAX_HEADER_BYTES,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        _wait_for(lambda: server.started or not thread.is_alive(), "uvicorn")
        if not server.started:
            raise RuntimeError("uvicorn exited before it started serving")
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


@contextmanager
def serve_wsgi(app: Any, threads: int = 4) -> Iterator[str]:
    """Run ``app`` under waitress in a thread; yields ``http://127.0.0.1:<port>``."""
    server = create_server(
        app,
        host="127.0.0.1",
        port=0,
        threads=threads,
        max_request_header_size=MAX_HEADER_BYTES,
        ident="inproc-waitress",
    )
    port = server.effective_port
    stop = threading.Event()
    socket_map = server._map

    def loop() -> None:
        # Short poll rounds so the loop notices `stop`; every asyncore call stays in this
        # one thread, including the final close of the channels.
        while not stop.is_set():
            server.asyncore.loop(timeout=0.05, map=socket_map, use_poll=True, count=1)
        for channel in list(socket_map.values()):
            channel.close()
        server.task_dispatcher.shutdown()

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        stop.set()
        thread.join(timeout=10)
