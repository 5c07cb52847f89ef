"""A real ``meeple serve`` process on a free port with a temp data dir.

Accounts are made through the real HTTP api; money enters through the operator
endpoints (the operator is created with ``meeple accounts create-operator``).
Timers are shortened through ``MEEPLE_*`` environment variables so that whole
games finish in seconds.
"""

from __future__ import annotations

import itertools
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from meeple.client.http import Api, Tokens
from tests.gateway.wsclient import WsClient

MEEPLE = [sys.executable, "-m", "meeple.cli"]
PASSWORD = "correct horse battery 1"
OPERATOR = "operator1"

# Fast and small: cheap password hashing, short timers, no api rate limit.
BASE_ENV = {
    "MEEPLE_LOG_LEVEL": "WARNING",
    "MEEPLE_PASSWORD_HASH_TIME_COST": "1",
    "MEEPLE_PASSWORD_HASH_MEMORY_KIB": "8192",
    "MEEPLE_API_RATE_LIMIT_PER_S": "0",
    "MEEPLE_LOGIN_MAX_FAILURES": "1000",
    "MEEPLE_MATCH_TICK_MS": "50",
    "MEEPLE_LEASE_TTL_MS": "3000",
    "MEEPLE_FIRST_MOVE_TIMEOUT_S": "30",
    "MEEPLE_DISCONNECT_GRACE_S": "60",
    "MEEPLE_DRAIN_TIMEOUT_S": "3",
    "MEEPLE_TIME_CONTROLS": "1+0,3+2",
}


class Server:
    """One ``meeple serve`` process (restartable on the same data dir)."""

    def __init__(self, data_dir: Path, env: dict[str, str]) -> None:
        self.data_dir = data_dir
        # 0 until the first start: the server binds a free port itself and says which
        # (a port probed free and bound later can be taken in between); restarts reuse it.
        self.port = 0
        self.env = {**os.environ, **BASE_ENV, **env}
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = data_dir / "serve.log"

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    def start(self) -> None:
        """Start and wait until it answers /healthz."""
        args = ["serve", "--port", str(self.port), "--data-dir", str(self.data_dir)]
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [*MEEPLE, *args], env=self.env, stdout=subprocess.PIPE, stderr=log
            )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().decode()
        if "serving on" not in line:
            self.proc.wait(10)
            self.proc.stdout.close()
            raise AssertionError(f"meeple serve did not start: {line!r}\n{self.tail()}")
        self.port = int(line.strip().rsplit(":", 1)[1].split("/")[0])
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{self.base_url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, f"no /healthz\n{self.tail()}"
            time.sleep(0.05)

    def signal(self, sig: signal.Signals) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)

    def wait(self, timeout: float = 20) -> int:
        """Until the process exits; its status."""
        assert self.proc is not None
        status = self.proc.wait(timeout)
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        return status

    def kill(self) -> None:
        """SIGKILL: no drain, no lease release, nothing flushed beyond the store's commits."""
        self.signal(signal.SIGKILL)
        self.wait()

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.signal(signal.SIGTERM)
            try:
                self.wait()
            except subprocess.TimeoutExpired:
                self.kill()
        if self.proc.stdout is not None:
            self.proc.stdout.close()

    def tail(self, lines: int = 30) -> str:
        if not self.log.exists():
            return ""
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def meeple(self, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        """Run another ``meeple`` command on this server's data dir."""
        return subprocess.run(
            [*MEEPLE, *args],
            input=stdin,
            env={**self.env, "MEEPLE_DATA_DIR": str(self.data_dir)},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )


@dataclass
class Player:
    """A registered player with a fresh access token."""

    username: str
    player_id: int
    tokens: Tokens

    @property
    def token(self) -> str:
        return self.tokens.access_token


_names = itertools.count(1)


class Platform:
    """A server plus the api calls the tests need."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.clients: list[WsClient] = []
        self.players: list[Player] = []
        self._operator: Tokens | None = None

    async def player(self, funds: int = 0) -> Player:
        """Register a new player (and deposit ``funds``)."""
        name = f"u{next(_names)}{uuid.uuid4().hex[:6]}"
        async with Api(self.server.base_url) as api:
            tokens = await api.register_or_login(name, PASSWORD)
        async with httpx.AsyncClient(base_url=self.server.base_url) as http:
            me = await http.get(
                "/api/v1/me", headers={"Authorization": f"Bearer {tokens.access_token}"}
            )
            me.raise_for_status()
            player = Player(name, int(me.json()["id"]), tokens)
        if funds:
            await self.deposit(name, funds)
        self.players.append(player)
        return player

    async def operator_token(self) -> str:
        if self._operator is None:
            async with Api(self.server.base_url) as api:
                self._operator = await api.login(OPERATOR, PASSWORD)
        return self._operator.access_token

    async def deposit(self, username: str, amount: int) -> None:
        token = await self.operator_token()
        async with httpx.AsyncClient(base_url=self.server.base_url) as http:
            response = await http.post(
                f"/api/v1/operator/players/{username}/deposit",
                json={"amount": amount, "memo": "e2e"},
                headers={"Authorization": f"Bearer {token}", "Idempotency-Key": uuid.uuid4().hex},
            )
            assert response.status_code == 201, response.text

    async def balance(self, player: Player) -> int:
        token = await self.operator_token()
        async with httpx.AsyncClient(base_url=self.server.base_url) as http:
            response = await http.get(
                f"/api/v1/operator/players/{player.username}/wallet",
                headers={"Authorization": f"Bearer {token}"},
            )
            response.raise_for_status()
            return int(response.json()["balance"])

    async def connect(self, token: str | None) -> WsClient:
        client = await WsClient.open(self.server.ws_url, token)
        self.clients.append(client)
        return client

    async def welcome(self, player: Player) -> WsClient:
        client = await self.connect(player.token)
        await client.type("welcome")
        return client

    async def close(self) -> None:
        for client in self.clients:
            await client.close()
        self.clients.clear()


def make_server(root: Path, **env: str) -> Server:
    """A server on a new data dir, with its operator account created (not started)."""
    data_dir = root / uuid.uuid4().hex[:8]
    data_dir.mkdir(parents=True)
    server = Server(data_dir, env)
    created = server.meeple("accounts", "create-operator", OPERATOR, stdin=PASSWORD + "\n")
    assert created.returncode == 0, created.stderr
    return server


@pytest.fixture(scope="module")
def data_root(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Where the servers' data dirs go: tmpfs when there is one.

    These tests kill processes, not machines: a commit survives SIGKILL on tmpfs as on
    disk, and without the disk's fsync latency whole games take half the time.
    """
    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK):
        root = Path(tempfile.mkdtemp(prefix="meeple-e2e-", dir=shm))
        try:
            yield root
        finally:
            shutil.rmtree(root, ignore_errors=True)
    else:
        yield tmp_path_factory.mktemp("e2e")


@pytest.fixture(scope="module")
def served(data_root: Path, request: pytest.FixtureRequest) -> Iterator[Server]:
    """One server for a module's tests, with the module's ``SERVER_ENV`` on top."""
    server = make_server(data_root, **getattr(request.module, "SERVER_ENV", {}))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
async def platform(served: Server) -> AsyncIterator[Platform]:
    """The module's server, with clients closed after each test."""
    plat = Platform(served)
    yield plat
    await plat.close()
