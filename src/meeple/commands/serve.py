"""``meeple serve``: the whole platform in one process on embedded defaults.

For now that is the api tier on SQLite in the data dir; the real-time tiers
(gateway, engine, in-memory bus) join this process as they are built.
"""

from __future__ import annotations

import argparse

from meeple.commands.api import add_arguments as _api_arguments
from meeple.commands.api import settings_from


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The same flags as ``meeple api``."""
    _api_arguments(parser)


def run(args: argparse.Namespace) -> int:
    """Serve until Ctrl-C."""
    from meeple.api.app import create_app
    from meeple.commands._uvicorn import serve
    from meeple.obs.logging import configure_logging

    settings = settings_from(args)
    configure_logging(settings)
    return serve(create_app(settings), settings, announce="meeple serving")
