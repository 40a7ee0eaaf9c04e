"""Start the server: ``python -m sample_legacy`` (from the folder that holds sample_legacy/).

Environment: PORT (default 8000), BASE_URL (default http://127.0.0.1:$PORT, also the
issuer), LOG_LEVEL (default info), DEMO_USER (default alice), SAMPLE_TOKEN_DB (an SQLite
file for tokens and clients; without it they are kept in memory).
"""

from __future__ import annotations

import logging
import os

import uvicorn

from sample_legacy.app import create_app


def main() -> None:
    port = int(os.environ.get("PORT", "8000"))
    base_url = os.environ.get("BASE_URL") or f"http://127.0.0.1:{port}"
    base_url = base_url.rstrip("/")
    log_level = os.environ.get("LOG_LEVEL", "info").lower()
    logging.getLogger().setLevel(log_level.upper())

    app = create_app(base_url)
    uvicorn.run(app, host=os.environ.get("HOST", "127.0.0.1"), port=port, log_level=log_level)


if __name__ == "__main__":
    main()
