"""Serve the api with the web client mounted, until `meeple serve` mounts it itself.

Run as ``python -m tests.web._interim_server --data-dir DIR``; prints
``meeple serving on http://HOST:PORT`` like ``meeple serve``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from meeple.api.app import create_app
from meeple.commands._uvicorn import serve
from meeple.settings import load
from meeple.web import static_files


def main() -> int:
    """Serve until a signal."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    settings = load(data_dir=args.data_dir, port=args.port)
    app = create_app(settings)
    app.mount("/", static_files(), name="web")
    return serve(app, settings, announce="meeple serving")


if __name__ == "__main__":
    raise SystemExit(main())
