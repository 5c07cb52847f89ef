"""The browser client: plain HTML, CSS and JavaScript modules, no build step.

The files live in ``static/`` and are served at ``/`` by the one-process
composition (``meeple serve``) with :func:`static_files`, mounted after every
other route so that ``/api``, ``/ws``, ``/healthz``, ``/readyz`` and ``/metrics``
take precedence. docs/web.md describes the client.
"""

from __future__ import annotations

from pathlib import Path

from starlette.staticfiles import StaticFiles

STATIC_DIR = Path(__file__).parent / "static"
"""The directory of the client's files (index.html, css/, js/)."""


def static_files() -> StaticFiles:
    """An ASGI app serving the client; ``/`` answers with index.html."""
    return StaticFiles(directory=STATIC_DIR, html=True)
