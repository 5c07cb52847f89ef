"""Browser tests: Playwright for Python driving Debian's Chromium (never a downloaded one)
against a real server process on a free port.

Playwright's async API, on one event loop for the whole session (the browser is launched
once): every async test and fixture of this package runs on that loop. Not the sync API:
it keeps its own loop marked as running in the main thread while the browser is alive,
so any asyncio test run after a browser test would fail ("Cannot run the event loop while
another loop is running").
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
import pytest_asyncio

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ROOT = Path(__file__).resolve().parents[2]
MEEPLE = str(Path(sys.executable).with_name("meeple"))
SCREENSHOTS = ROOT / "artifacts" / "screenshots"

if not CHROMIUM.exists():  # scripts/system-deps installs it; say so loudly rather than skip
    raise RuntimeError(f"{CHROMIUM} is missing: run scripts/system-deps (Debian package chromium)")

from playwright.async_api import Browser, ConsoleMessage, Page, async_playwright  # noqa: E402

HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run this package's async tests on the session loop, where the browser lives."""
    session_loop = pytest.mark.asyncio(loop_scope="session")
    for item in items:
        if pytest_asyncio.is_async_test(item) and item.path.is_relative_to(HERE):
            item.add_marker(session_loop, append=False)


@dataclass
class Server:
    """A running server process and where it listens."""

    url: str
    data_dir: Path
    process: subprocess.Popen[str]
    output: list[str] = field(default_factory=list)


def _wait_ready(url: str, process: subprocess.Popen[str], deadline_s: float) -> None:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        try:
            if httpx.get(f"{url}/healthz", timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise TimeoutError(f"server at {url} not healthy within {deadline_s} s")


def start_server(data_dir: Path, command: list[str], env: dict[str, str] | None = None) -> Server:
    """Start a server command printing ``... on http://host:port`` and wait until healthy."""
    data_dir.mkdir(parents=True, exist_ok=True)
    full_env = {**os.environ, "MEEPLE_LOG_LEVEL": "WARNING", **(env or {})}
    process = subprocess.Popen(
        command,
        cwd=ROOT,
        env=full_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    output: list[str] = []
    deadline = time.monotonic() + 30
    url = None
    while url is None and time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            raise RuntimeError(f"server exited early: {''.join(output)}")
        output.append(line)
        found = re.search(r"on (http://[\w.\[\]:]+)", line)
        if found:
            url = found.group(1)
    if url is None:
        process.kill()
        raise TimeoutError(f"server did not announce its address: {''.join(output)}")
    # Keep draining the output so the process never blocks on a full pipe.
    threading.Thread(
        target=lambda: output.extend(iter(process.stdout.readline, "")),  # type: ignore[union-attr]
        daemon=True,
    ).start()
    server = Server(url=url, data_dir=data_dir, process=process, output=output)
    _wait_ready(url, process, 30)
    return server


def stop_server(server: Server) -> None:
    """SIGTERM, then wait (kill after a deadline)."""
    server.process.terminate()
    try:
        server.process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait()
    if server.process.stdout is not None:
        server.process.stdout.close()


PASSWORD = "Correct-horse-9"
OPERATOR = "webops"
# Fast and small: cheap password hashing, a quick matchmaker, no api rate limit.
SERVER_ENV = {
    "MEEPLE_PASSWORD_HASH_TIME_COST": "1",
    "MEEPLE_PASSWORD_HASH_MEMORY_KIB": "8192",
    "MEEPLE_API_RATE_LIMIT_PER_S": "0",
    "MEEPLE_LOGIN_MAX_FAILURES": "1000",
    "MEEPLE_MATCH_TICK_MS": "50",
    # A player whose connections are all gone this long forfeits: ends games fast.
    "MEEPLE_DISCONNECT_GRACE_S": "3",
}


def meeple(data_dir: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    """Run a ``meeple`` command on a data dir."""
    return subprocess.run(
        [MEEPLE, *args],
        input=stdin,
        env={**os.environ, **SERVER_ENV, "MEEPLE_DATA_DIR": str(data_dir)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """``meeple serve`` (the whole platform with the web client) on a fresh data dir,
    with an operator account for deposits."""
    data_dir = tmp_path_factory.mktemp("web-data")
    created = meeple(data_dir, "accounts", "create-operator", OPERATOR, stdin=PASSWORD + "\n")
    assert created.returncode == 0, created.stderr
    command = [MEEPLE, "serve", "--port", "0", "--data-dir", str(data_dir)]
    srv = start_server(data_dir, command, SERVER_ENV)
    yield srv
    stop_server(srv)


async def api_login(server: Server, username: str, password: str = PASSWORD) -> str:
    """An access token for an existing account."""
    async with httpx.AsyncClient(base_url=server.url) as client:
        response = await client.post(
            "/api/v1/auth/login", json={"username": username, "password": password}
        )
    response.raise_for_status()
    return str(response.json()["access_token"])


async def api_register(server: Server, username: str, password: str = PASSWORD) -> None:
    """Create an account through the api."""
    async with httpx.AsyncClient(base_url=server.url) as client:
        response = await client.post(
            "/api/v1/auth/register", json={"username": username, "password": password}
        )
    assert response.status_code in (201, 409), response.text


async def deposit(server: Server, username: str, amount: int) -> None:
    """Put money in a player's wallet (operator endpoint)."""
    token = await api_login(server, OPERATOR)
    async with httpx.AsyncClient(base_url=server.url) as client:
        response = await client.post(
            f"/api/v1/operator/players/{username}/deposit",
            json={"amount": amount, "memo": "web tests"},
            headers={"Authorization": f"Bearer {token}", "Idempotency-Key": uuid.uuid4().hex},
        )
    assert response.status_code == 201, response.text


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def browser() -> AsyncIterator[Browser]:
    """One headless Chromium for the session."""
    async with async_playwright() as p:
        b = await p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield b
        await b.close()


class Console:
    """Console errors and page errors of a page; tests assert there are none."""

    def __init__(self) -> None:
        self.errors: list[str] = []
        self.allowed: list[str] = []

    def allow(self, pattern: str) -> None:
        """Tolerate console errors matching ``pattern`` (e.g. an expected 401 response)."""
        self.allowed.append(pattern)

    def on_console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.errors.append(f"console: {message.text} ({message.location})")

    def on_page_error(self, error: Exception) -> None:
        self.errors.append(f"page error: {error}")

    def unexpected(self) -> list[str]:
        return [e for e in self.errors if not any(re.search(p, e) for p in self.allowed)]


@dataclass
class Tab:
    """A page and its console."""

    page: Page
    console: Console


async def open_tab(browser: Browser, base_url: str, *, width: int = 1280, height: int = 900) -> Tab:
    """A new browser context (own localStorage) with one page that records its console."""
    context = await browser.new_context(
        base_url=base_url, viewport={"width": width, "height": height}
    )
    page = await context.new_page()
    console = Console()
    page.on("console", console.on_console)
    page.on("pageerror", console.on_page_error)
    page.set_default_timeout(10_000)
    return Tab(page=page, console=console)


@pytest_asyncio.fixture(loop_scope="session")
async def tab(browser: Browser, server: Server) -> AsyncIterator[Tab]:
    """A fresh desktop-sized tab on the server; fails the test on console errors."""
    t = await open_tab(browser, server.url)
    yield t
    await t.page.context.close()
    assert t.console.unexpected() == []


async def screenshot(page: Page, name: str) -> Path:
    """Save a screenshot under artifacts/screenshots/ (gitignored)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    await page.screenshot(path=str(path))
    return path
