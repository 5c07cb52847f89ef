"""A real ``meeple api`` server in a subprocess, and helpers to talk to it over HTTP."""

from __future__ import annotations

import contextlib
import io
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from meeple.cli import main
from tests.services import free_port, wait_for

# Cheap password hashes, so tests spend their time on behaviour, not on argon2.
FAST_ENV = {
    "MEEPLE_PASSWORD_HASH_TIME_COST": "1",
    "MEEPLE_PASSWORD_HASH_MEMORY_KIB": "1024",
    "MEEPLE_LOG_LEVEL": "WARNING",
}
PASSWORD = "Correct-horse-9"


@dataclass
class ApiServer:
    """A running server: its URL, data dir and process."""

    base_url: str
    data_dir: Path
    proc: subprocess.Popen[bytes]
    stdout: Path
    stderr: Path
    env: dict[str, str] = field(default_factory=dict)

    def client(self, address: str | None = None, **kwargs: object) -> httpx.Client:
        """An HTTP client; ``address`` poses as that client address (X-Forwarded-For)."""
        headers = {"x-forwarded-for": address} if address else {}
        return httpx.Client(base_url=self.base_url, headers=headers, timeout=30, **kwargs)  # type: ignore[arg-type]

    def stop(self, sig: int = signal.SIGTERM) -> int:
        """Stop the server with ``sig``; its exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        return self.proc.wait(timeout=30)

    def logs(self) -> str:
        """What the server wrote to stderr."""
        return self.stderr.read_text(errors="replace")


def start_server(
    data_dir: Path, env: dict[str, str] | None = None, command: str = "api"
) -> ApiServer:
    """Start ``meeple <command>`` on a free port and wait until /healthz answers."""
    data_dir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    # Only what the test says: no MEEPLE_* setting leaks in from the caller's environment.
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("MEEPLE_")}
    full_env = {**inherited, **FAST_ENV, **(env or {})}
    stdout, stderr = data_dir / "stdout.log", data_dir / "stderr.log"
    argv = [sys.executable, "-m", "meeple.cli", command, "--port", str(port)]
    argv += ["--data-dir", str(data_dir)]
    with stdout.open("wb") as out, stderr.open("wb") as err:
        proc = subprocess.Popen(argv, env=full_env, stdout=out, stderr=err)
    server = ApiServer(f"http://127.0.0.1:{port}", data_dir, proc, stdout, stderr, env or {})

    def healthy() -> bool:
        if proc.poll() is not None:
            raise RuntimeError(f"meeple {command} exited {proc.returncode}:\n{server.logs()}")
        try:
            return httpx.get(f"{server.base_url}/healthz", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    try:
        wait_for(healthy, f"meeple {command} on port {port}", timeout=30)
    except BaseException:
        server.stop(signal.SIGKILL)
        raise
    return server


@pytest.fixture(scope="session")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    """The shared server: SQLite, 3 failed logins per account (30 per address) per minute,
    no request rate limit."""
    server = start_server(
        tmp_path_factory.mktemp("api"),
        {
            "MEEPLE_LOGIN_MAX_FAILURES": "3",
            "MEEPLE_LOGIN_WINDOW_S": "60",
            "MEEPLE_API_RATE_LIMIT_PER_S": "0",
        },
    )
    try:
        yield server
    finally:
        assert server.stop() == 0, server.logs()


def unique_name(prefix: str = "p") -> str:
    """A username no other test uses."""
    return f"{prefix}_{uuid.uuid4().hex[:12]}"


def unique_address() -> str:
    """A client address no other test uses (from TEST-NET-2 style private space)."""
    raw = uuid.uuid4().int
    return f"10.{raw % 250}.{(raw >> 8) % 250}.{(raw >> 16) % 250 + 1}"


@dataclass
class Account:
    """A registered, logged-in player."""

    username: str
    password: str
    access_token: str
    refresh_token: str

    @property
    def auth(self) -> dict[str, str]:
        """The Authorization header."""
        return {"authorization": f"Bearer {self.access_token}"}


def register(client: httpx.Client, username: str | None = None) -> Account:
    """Register and log in a new player."""
    username = username or unique_name()
    response = client.post(
        "/api/v1/auth/register", json={"username": username, "password": PASSWORD}
    )
    assert response.status_code == 201, response.text
    return login(client, username)


def login(client: httpx.Client, username: str, password: str = PASSWORD) -> Account:
    """Log in; the account with its tokens."""
    response = client.post("/api/v1/auth/login", json={"username": username, "password": password})
    assert response.status_code == 200, response.text
    body = response.json()
    return Account(username, password, body["access_token"], body["refresh_token"])


def assert_problem(response: httpx.Response, status: int, code: str) -> dict[str, object]:
    """Assert an RFC 9457 problem with this status and code; its body."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, object] = response.json()
    assert body["status"] == status
    assert body["code"] == code
    assert body["type"] == f"urn:meeple:problem:{code}"
    assert isinstance(body["title"], str) and body["title"]
    assert isinstance(body["detail"], str) and body["detail"]
    return body


def meeple_accounts(
    data_dir: Path, *args: str, stdin: str = "", env: dict[str, str] | None = None
) -> tuple[int, str, str]:
    """Run ``meeple accounts --data-dir DATA_DIR ARGS...`` in this process (it is a short
    command: no server to wait for); its exit status, stdout and stderr."""
    out, err = io.StringIO(), io.StringIO()
    overrides = {**FAST_ENV, **(env or {})}
    saved = {k: os.environ.pop(k) for k in list(os.environ) if k.startswith("MEEPLE_")}
    os.environ.update(overrides)
    try:
        with (
            contextlib.redirect_stdout(out),
            contextlib.redirect_stderr(err),
            _stdin(stdin),
        ):
            status = main(["accounts", "--data-dir", str(data_dir), *args])
    finally:
        for key in overrides:
            os.environ.pop(key, None)
        os.environ.update(saved)
    return status, out.getvalue(), err.getvalue()


@contextlib.contextmanager
def _stdin(text: str) -> Iterator[None]:
    saved, sys.stdin = sys.stdin, io.StringIO(text)
    try:
        yield
    finally:
        sys.stdin = saved


def make_operator(server: ApiServer, username: str) -> None:
    """Create an operator account with ``meeple accounts create-operator``."""
    status, _out, err = meeple_accounts(
        server.data_dir, "create-operator", username, stdin=PASSWORD + "\n", env=server.env
    )
    assert status == 0, err


@pytest.fixture(scope="session")
def operator(api: ApiServer) -> Account:
    """An operator of the shared server, logged in."""
    name = unique_name("op")
    make_operator(api, name)
    with api.client() as client:
        return login(client, name)
