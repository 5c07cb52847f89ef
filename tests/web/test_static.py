"""The client's files are served at / and never shadow the api."""

from __future__ import annotations

import httpx

from tests.web.conftest import Server


def test_index_and_modules_are_served(server: Server) -> None:
    index = httpx.get(f"{server.url}/")
    assert index.status_code == 200
    assert index.headers["content-type"].startswith("text/html")
    assert '<script type="module" src="/js/app.js">' in index.text
    for path in ("/js/app.js", "/js/socket.js", "/js/board.js", "/js/notation.js"):
        response = httpx.get(f"{server.url}{path}")
        assert response.status_code == 200, path
        # Browsers refuse module scripts served with any other type.
        assert response.headers["content-type"].startswith("text/javascript"), path
    css = httpx.get(f"{server.url}/css/app.css")
    assert css.headers["content-type"].startswith("text/css")


def test_api_and_health_take_precedence(server: Server) -> None:
    assert httpx.get(f"{server.url}/healthz").json()["status"] == "ok"
    missing = httpx.get(f"{server.url}/api/v1/nothing-here")
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("application/problem+json")
    assert httpx.get(f"{server.url}/no-such-file.js").status_code == 404


def test_python_sources_are_not_served(server: Server) -> None:
    assert httpx.get(f"{server.url}/__init__.py").status_code == 404
