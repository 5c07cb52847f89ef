"""Shared pieces of the benchmarks: servers in child processes, figures, progress.

Nothing here is imported by meeple itself; the benchmarks run as scripts
(``python benchmarks/serve.py``) with this directory on ``sys.path``.
"""

from __future__ import annotations

import contextlib
import os
import resource
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psutil

ROOT = Path(__file__).resolve().parent.parent
MEEPLE = Path(sys.executable).with_name("meeple")


def progress(line: str) -> None:
    """A progress line on standard error (figures go to standard output)."""
    sys.stderr.write(f"[{time.strftime('%H:%M:%S')}] {line}\n")
    sys.stderr.flush()


def raise_open_files() -> int:
    """Raise this process's soft open-files limit to the hard limit; returns it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q`` quantile (0..1) by nearest rank; NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


@dataclass(frozen=True, slots=True)
class Usage:
    """A process tree's CPU seconds (user+system) and resident memory at one instant."""

    cpu_s: float
    rss: int

    @classmethod
    def of(cls, pid: int) -> Usage:
        """Sum over the process and its children (NaN for pid 0: unknown)."""
        if not pid:
            return cls(float("nan"), 0)
        root = psutil.Process(pid)
        cpu, rss = 0.0, 0
        for proc in [root, *root.children(recursive=True)]:
            with contextlib.suppress(psutil.NoSuchProcess):
                times = proc.cpu_times()
                cpu += times.user + times.system
                rss += proc.memory_info().rss
        return cls(cpu, rss)


def wait_for(predicate: Callable[[], bool], within_s: float, what: str) -> None:
    """Poll ``predicate`` until true; RuntimeError naming ``what`` after ``within_s``."""
    deadline = time.monotonic() + within_s
    while not predicate():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.05)


@dataclass
class MeepleServer:
    """A ``meeple serve`` child process on a temporary data dir."""

    process: subprocess.Popen[bytes] | None  # None: started by someone else
    base_url: str
    signing_key: str
    data_dir: Path
    given_pid: int | None = None

    @property
    def pid(self) -> int:
        """The server's process id (0 when unknown: no CPU or RSS figures)."""
        if self.process is not None:
            return self.process.pid
        return self.given_pid or 0


# Settings that make a benchmark measure the game path, not the abuse limits.
BENCH_ENV = {
    "MEEPLE_LOG_LEVEL": "WARNING",
    "MEEPLE_API_RATE_LIMIT_PER_S": "0",
    "MEEPLE_PASSWORD_HASH_TIME_COST": "1",
    "MEEPLE_PASSWORD_HASH_MEMORY_KIB": "8192",
    "MEEPLE_WS_RATE_PER_S": "100000",
    "MEEPLE_WS_RATE_BURST": "100000",
    "MEEPLE_WS_MAX_PER_ADDRESS": "1000000",
    "MEEPLE_WS_IDLE_TIMEOUT_S": "3600",
}


@contextlib.contextmanager
def meeple_server(
    data_dir: Path, extra_env: dict[str, str] | None = None
) -> Iterator[MeepleServer]:
    """Start ``meeple serve`` on a free port; stop it (SIGTERM, then kill) afterwards."""
    port = free_port()
    key = secrets.token_urlsafe(32)
    env = {**os.environ, **BENCH_ENV, "MEEPLE_SIGNING_KEY": key, **(extra_env or {})}
    log_path = data_dir / "serve.log"
    data_dir.mkdir(parents=True, exist_ok=True)
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [
                str(MEEPLE),
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--data-dir",
                str(data_dir),
            ],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            preexec_fn=raise_open_files,
        )
    server = MeepleServer(process, f"http://127.0.0.1:{port}", key, data_dir)
    try:
        wait_for(lambda: _healthy(server), 60, "meeple serve to answer /healthz")
        yield server
    except BaseException:
        sys.stderr.write(log_path.read_text(errors="replace")[-4000:])
        raise
    finally:
        stop(process)


def _healthy(server: MeepleServer) -> bool:
    assert server.process is not None
    if server.process.poll() is not None:
        raise RuntimeError(f"meeple serve exited with {server.process.returncode}")
    try:
        return httpx.get(server.base_url + "/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL after 15 s."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def tidy(path: Path) -> None:
    """Remove a temporary directory, quietly."""
    shutil.rmtree(path, ignore_errors=True)


def run_async(coro: object) -> object:
    """asyncio.run with uvloop (as the server runs)."""
    import uvloop

    return uvloop.run(coro)  # type: ignore[arg-type]


async def add_players(store: Any, count: int) -> list[int]:
    """Insert ``count`` bare players straight into a store (``meeple.store.database.Store``);
    their ids. For benchmarks that drive the store or the engine without the api."""
    import uuid
    from datetime import UTC, datetime

    from sqlalchemy import insert

    from meeple.store.schema import players

    now = datetime.now(UTC)
    ids = []
    async with store.begin() as conn:
        for _ in range(count):
            key = uuid.uuid4().hex
            result = await conn.execute(
                insert(players)
                .values(
                    username=key[:32],
                    username_key=key,
                    display_name="Bench",
                    password_hash="x",
                    created_at=now,
                    updated_at=now,
                )
                .returning(players.c.id)
            )
            ids.append(int(result.scalar_one()))
    return ids
