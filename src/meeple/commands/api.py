"""``meeple api``: the api tier (REST: accounts, sessions, profiles, wallet) on its own.

Stateless: run as many as needed behind the L7 router, all on the same store and
signing key.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from meeple.settings import Settings, load


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags that override the ``MEEPLE_*`` environment."""
    parser.add_argument("--host", help="address to listen on (MEEPLE_HOST, 127.0.0.1)")
    parser.add_argument("--port", type=int, help="TCP port (MEEPLE_PORT, 8000)")
    parser.add_argument(
        "--data-dir", type=Path, help="SQLite store and signing key (MEEPLE_DATA_DIR, ./data)"
    )


def settings_from(args: argparse.Namespace) -> Settings:
    """Settings from the environment with the flags on top."""
    return load(host=args.host, port=args.port, data_dir=args.data_dir)


def run(args: argparse.Namespace) -> int:
    """Serve the api until interrupted."""
    from meeple.api.app import create_app
    from meeple.commands._uvicorn import serve
    from meeple.obs import tracing
    from meeple.obs.logging import configure_logging

    settings = settings_from(args)
    configure_logging(settings)
    tracing.configure(settings, "api")
    try:
        return serve(create_app(settings), settings, announce="meeple api listening")
    finally:
        tracing.shutdown()
