"""A real multi-process meeple cluster behind a real nginx, for end-to-end fault tests.

::

    clients -> nginx (deploy/nginx/nginx.conf.template, rendered by deploy/nginx/render)
                 /api/ -> api-1, api-2 ---------------------> PostgreSQL
                 /ws   -> gateway-1, gateway-2 --> Redis <--> engine-1, engine-2
                                                   (each engine runs a matchmaker too)

Every role is ``python -m meeple.cli <role> --port P`` on a free port with the
``MEEPLE_*`` environment of :data:`BASE_ENV`; each can be SIGKILLed, stopped
(SIGTERM, graceful) and started again on the same port. nginx runs as
``nginx -p <prefix> -c <prefix>/nginx.conf -g 'daemon off;'`` (master process on),
its logs under the prefix.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import httpx

from meeple.web import STATIC_DIR
from tests.services import PostgresServer, RedisServer, free_port

MEEPLE = [sys.executable, "-m", "meeple.cli"]
REPO = Path(__file__).resolve().parents[2]
RENDER = REPO / "deploy" / "nginx" / "render"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
PASSWORD = "correct horse battery 1"
OPERATOR = "operator1"
START_TIMEOUT_S = 60.0
LEASE_TTL_MS = 1500

# Fast and small: cheap password hashing, short timers, no rate limits in the way of bots.
BASE_ENV = {
    "MEEPLE_LOG_LEVEL": "INFO",  # low volume: starts, stops, shard moves
    "MEEPLE_PASSWORD_HASH_TIME_COST": "1",
    "MEEPLE_PASSWORD_HASH_MEMORY_KIB": "8192",
    "MEEPLE_API_RATE_LIMIT_PER_S": "0",
    "MEEPLE_LOGIN_MAX_FAILURES": "1000",
    "MEEPLE_WS_RATE_PER_S": "1000",
    "MEEPLE_WS_RATE_BURST": "200",
    "MEEPLE_MATCH_TICK_MS": "50",
    "MEEPLE_LEASE_TTL_MS": str(LEASE_TTL_MS),
    "MEEPLE_COMMAND_TIMEOUT_S": "2",
    "MEEPLE_FIRST_MOVE_TIMEOUT_S": "60",
    "MEEPLE_DISCONNECT_GRACE_S": "60",
    "MEEPLE_DRAIN_TIMEOUT_S": "2",
    # A minute of a time control lasts 6 s: a 1+0 fourchess game ends by the flags
    # within 24 s of moving even if random moves would go on for 1000 plies.
    "MEEPLE_CLOCK_MINUTE_MS": "6000",
    "MEEPLE_TIME_CONTROLS": "1+0,3+2",
    "MEEPLE_SIGNING_KEY": "cluster-test-signing-key-0123456789abcdef",
}


def wait_until(condition: Callable[[], bool], what: str, timeout: float = START_TIMEOUT_S) -> None:
    """Poll ``condition`` until it holds; fail naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.05)


def _http_ok(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def tail(path: Path, lines: int = 40) -> str:
    """The last lines of a log file ('' if there is none)."""
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


class Role:
    """One ``meeple <role>`` process, restartable on the same port."""

    def __init__(self, role: str, index: int, root: Path, env: dict[str, str]) -> None:
        self.role = role
        self.name = f"{role}-{index}"
        self.port = free_port()
        self.dir = root / self.name
        self.dir.mkdir(parents=True, exist_ok=True)
        self.log = self.dir / "process.log"
        self.env = {**env, "MEEPLE_DATA_DIR": str(self.dir)}
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def __repr__(self) -> str:
        return f"<{self.name} :{self.port} pid={self.pid}>"

    @property
    def url(self) -> str:
        """This process's own HTTP address (not through nginx)."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def launch(self) -> None:
        """Start the process (without waiting for it)."""
        assert not self.running, f"{self.name} already runs"
        argv = [*MEEPLE, self.role, "--host", "127.0.0.1", "--port", str(self.port)]
        with self.log.open("ab") as log:
            log.write(f"--- start {self.starts + 1}\n".encode())
            log.flush()
            self.proc = subprocess.Popen(
                argv, env=self.env, stdout=log, stderr=log, stdin=subprocess.DEVNULL
            )
        self.starts += 1

    def ready(self) -> bool:
        """Alive and answering ``/readyz`` with 200 (store and bus reachable, started)."""
        if self.proc is None or self.proc.poll() is not None:
            code = self.proc.returncode if self.proc is not None else None
            raise RuntimeError(f"{self.name} exited ({code}):\n{tail(self.log)}")
        return _http_ok(f"{self.url}/readyz")

    def readiness(self) -> dict[str, object]:
        """The ``/readyz`` answer (an engine's names its engine id and shard count)."""
        body: dict[str, object] = httpx.get(f"{self.url}/readyz", timeout=2).json()
        return body

    def wait_ready(self, timeout: float = START_TIMEOUT_S) -> None:
        wait_until(self.ready, f"{self.name} /readyz", timeout)

    def start(self) -> None:
        """Start and wait until ready."""
        self.launch()
        self.wait_ready()

    def kill(self) -> None:
        """SIGKILL: no drain, no lease release."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=START_TIMEOUT_S)
        self.proc = None

    def stop(self, timeout: float = 20.0) -> int | None:
        """SIGTERM (graceful) and wait; SIGKILL if it does not exit in ``timeout``."""
        if self.proc is None:
            return None
        status: int | None = None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                status = self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.send_signal(signal.SIGKILL)
                self.proc.wait(timeout=START_TIMEOUT_S)
        else:
            status = self.proc.returncode
        self.proc = None
        return status

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


def upstream_servers(roles: Iterable[Role], max_fails: int = 1, fail_timeout_s: int = 2) -> str:
    """The ``server`` lines of an upstream block for ``roles``."""
    return " ".join(
        f"server 127.0.0.1:{r.port} max_fails={max_fails} fail_timeout={fail_timeout_s}s;"
        for r in roles
    )


def render(values: dict[str, str]) -> str:
    """The template rendered by ``deploy/nginx/render`` (as in production) with ``values``
    as its only ``MEEPLE_*`` environment; raises if the script refuses them."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEEPLE_")}
    done = subprocess.run(
        [str(RENDER)],
        env={**env, **values},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    if done.returncode != 0:
        raise ValueError(f"render refused {sorted(values)}: {done.stderr.strip()}")
    return done.stdout


class Nginx:
    """A real nginx master (and its workers) from the deploy template, on a free port."""

    def __init__(self, prefix: Path, values: dict[str, str]) -> None:
        self.prefix = prefix
        self.port = int(values["MEEPLE_NGINX_LISTEN"].rsplit(":", 1)[-1])
        self.conf = prefix / "nginx.conf"
        self.error_log = prefix / "logs" / "error.log"
        self.access_log = prefix / "logs" / "access.log"
        self.stderr = prefix / "stderr.log"
        (prefix / "logs").mkdir(parents=True, exist_ok=True)
        (prefix / "tmp").mkdir(exist_ok=True)
        # As root the workers run as nobody: they must reach the temp dirs under the prefix.
        prefix.chmod(0o755)
        (prefix / "tmp").chmod(0o755)
        self.values = dict(values)
        self.conf.write_text(render(values))
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def argv(self, *extra: str) -> list[str]:
        return [NGINX, "-p", f"{self.prefix}/", "-c", str(self.conf), *extra]

    def check(self) -> subprocess.CompletedProcess[str]:
        """``nginx -t`` on the rendered configuration."""
        return subprocess.run(
            self.argv("-t"), capture_output=True, text=True, timeout=30, check=False
        )

    def start(self) -> None:
        with self.stderr.open("ab") as err:
            self.proc = subprocess.Popen(
                self.argv("-g", "daemon off;"),
                stdout=err,
                stderr=err,
                stdin=subprocess.DEVNULL,
                process_group=0,
            )

        def up() -> bool:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise RuntimeError(f"nginx exited:\n{tail(self.stderr)}\n{tail(self.error_log)}")
            return _http_ok(f"{self.url}/healthz")

        wait_until(up, f"nginx on port {self.port}")

    def stop(self) -> None:
        """Fast shutdown (SIGTERM to the master; the workers follow)."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=20)
        self.proc = None


class Cluster:
    """PostgreSQL + Redis + 2 api + 2 gateway + 2 engine processes + nginx."""

    def __init__(
        self,
        root: Path,
        postgres: PostgresServer,
        database: str,
        redis: RedisServer,
        *,
        env: dict[str, str] | None = None,
        conn_per_address: int = 200,
    ) -> None:
        self.root = root
        self.postgres = postgres
        self.database = database
        self.redis = redis
        self.database_url = postgres.url(database)
        self.env = {
            **os.environ,
            **BASE_ENV,
            "MEEPLE_DATABASE_URL": self.database_url,
            "MEEPLE_REDIS_URL": redis.url,
            **(env or {}),
        }
        self.apis = [Role("api", i, root, self.env) for i in (1, 2)]
        self.gateways = [Role("gateway", i, root, self.env) for i in (1, 2)]
        self.engines = [Role("engine", i, root, self.env) for i in (1, 2)]
        self.nginx = Nginx(
            root / "nginx",
            {
                "MEEPLE_NGINX_LISTEN": f"127.0.0.1:{free_port()}",
                "MEEPLE_API_SERVERS": upstream_servers(self.apis),
                "MEEPLE_GATEWAY_SERVERS": upstream_servers(self.gateways),
                "MEEPLE_WEB_ROOT": str(STATIC_DIR),
                "MEEPLE_NGINX_CONN_PER_ADDRESS": str(conn_per_address),
            },
        )

    @property
    def roles(self) -> list[Role]:
        return [*self.apis, *self.gateways, *self.engines]

    @property
    def url(self) -> str:
        """The platform's address: nginx."""
        return self.nginx.url

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.nginx.port}/ws"

    def start(self) -> None:
        """Start everything (the roles in parallel) and create the operator account."""
        created = self.meeple("accounts", "create-operator", OPERATOR, stdin=PASSWORD + "\n")
        assert created.returncode == 0, created.stdout + created.stderr
        for role in self.roles:
            role.launch()
        for role in self.roles:
            role.wait_ready()
        self.nginx.start()

    def stop(self) -> None:
        """nginx, then every role at once (SIGTERM: gateways drain, engines hand over)."""
        self.nginx.stop()
        for role in self.roles:
            if role.proc is not None and role.proc.poll() is None:
                role.proc.send_signal(signal.SIGTERM)
        for role in self.roles:
            role.stop()

    def meeple(self, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        """Run another ``meeple`` command against the cluster's store."""
        return subprocess.run(
            [*MEEPLE, *args],
            input=stdin,
            env={**self.env, "MEEPLE_DATA_DIR": str(self.root)},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    def ensure_running(self) -> None:
        """Bring back whatever a fault test left down (servers first, then roles)."""
        self.postgres.start()
        self.redis.start()
        for role in self.roles:
            if not role.running:
                role.launch()
        for role in self.roles:
            role.wait_ready()

    def engine_ids(self) -> dict[str, Role]:
        """Engine id -> process, for the engines running now (from their ``/readyz``)."""
        return {str(e.readiness()["engine"]): e for e in self.engines if e.running}

    def logs(self) -> str:
        """The tail of every log, for a failure message."""
        parts = [f"== {r.name}\n{tail(r.log, 15)}" for r in self.roles]
        parts.append(f"== nginx\n{tail(self.nginx.error_log, 15)}")
        return "\n".join(parts)
