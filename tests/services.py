"""Real servers for the test session: PostgreSQL and Redis on free ports, no mocks.

A pytest plugin (loaded by ``tests/conftest.py``). Fixtures:

- ``postgres`` (session): a PostgreSQL server of its own (``initdb`` in a temp dir,
  fsync and synchronous_commit on), with ``url()``, ``restart()``, ``kill()``
  (SIGKILL of every server process) and ``start()`` for fault tests.
- ``pg_url``: a migrated, empty database on it for one test (a copy of a template
  database migrated once per session; emptied and reused after the test, so a
  test that changes the schema must make its own with ``fresh_database()``).
- ``sqlite_url``: a fresh, migrated, empty SQLite file for one test.
- ``store``: an open :class:`meeple.store.database.Store` on either backend
  (parametrized ``sqlite`` / ``postgresql``).
- ``redis`` (session): a ``redis-server`` without persistence, with ``url``,
  ``restart()``, ``kill()``, ``start()``, ``pause()`` and ``resume()``.

PostgreSQL refuses to run as root, so when the tests run as root (CI containers)
the server runs as the ``postgres`` user that the Debian package creates.
"""

from __future__ import annotations

import asyncio
import glob
import itertools
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import psutil
import pytest
import uvicorn

from meeple.store.database import Store

START_TIMEOUT_S = 60.0


def free_port() -> int:
    """A TCP port that was free a moment ago (the kernel picks it)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


async def serve_in_task(config: uvicorn.Config) -> Callable[[], Awaitable[None]]:
    """Run uvicorn in a task of this event loop until it listens; the function that stops it."""
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 20
    while not server.started:  # uvicorn offers no event to wait on
        if task.done():
            task.result()
        assert loop.time() < deadline, "uvicorn did not start"
        await asyncio.sleep(0.01)

    async def stop() -> None:
        server.should_exit = True
        await task

    return stop


def wait_for(condition: Callable[[], bool], what: str, timeout: float = START_TIMEOUT_S) -> None:
    """Poll ``condition`` until it holds; fail with ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.02)


def _wait_group_gone(pgid: int, timeout: float = START_TIMEOUT_S) -> None:
    """Wait until no live process of process group ``pgid`` is left (zombies don't count)."""

    def gone() -> bool:
        for proc in psutil.process_iter(["status"]):
            try:
                if os.getpgid(proc.pid) == pgid and proc.info["status"] != psutil.STATUS_ZOMBIE:
                    return False
            except (ProcessLookupError, psutil.Error):
                continue
        return True

    wait_for(gone, f"process group {pgid} to exit", timeout)


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


# ----------------------------------------------------------------------- PostgreSQL


def postgres_bindir() -> Path:
    """The directory of PostgreSQL's server binaries (``initdb``, ``postgres``)."""
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    try:
        out = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True, check=True)
        candidates.insert(0, out.stdout.strip())
    except (OSError, subprocess.CalledProcessError):
        pass
    for directory in candidates:
        if (Path(directory) / "initdb").exists() and (Path(directory) / "postgres").exists():
            return Path(directory)
    raise RuntimeError("PostgreSQL server binaries not found: run scripts/system-deps")


class PostgresServer:
    """A PostgreSQL server owned by the test session."""

    TEMPLATE = "meeple_template"

    def __init__(self, root: Path) -> None:
        self.root = root
        self.data = root / "data"
        self.log = root / "postgres.log"
        self.port = free_port()
        self.bindir = postgres_bindir()
        self._proc: subprocess.Popen[bytes] | None = None
        self._as_user: str | None = "postgres" if os.geteuid() == 0 else None
        self._template_ready = False
        self._template_revision: str | None = None
        self._free: list[str] = []
        self._names = itertools.count(1)

    def url(self, database: str = "postgres") -> str:
        """SQLAlchemy (asyncpg) URL of ``database`` on this server."""
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/{database}"

    def dsn(self, database: str = "postgres") -> str:
        """Plain libpq/asyncpg DSN of ``database``."""
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    @property
    def running(self) -> bool:
        """Whether the postmaster is alive."""
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int | None:
        """The postmaster's process id (its children are the backends), if started."""
        return self._proc.pid if self._proc is not None else None

    def _popen(self, argv: list[str], **kwargs: object) -> subprocess.Popen[bytes]:
        if self._as_user is not None:
            user = pwd.getpwnam(self._as_user)
            kwargs.update(user=user.pw_uid, group=user.pw_gid, extra_groups=[])
        return subprocess.Popen(argv, cwd=self.root, **kwargs)  # type: ignore[call-overload, no-any-return]

    def init(self) -> None:
        """Create the cluster (``initdb``); the server then runs with fsync on."""
        self.root.mkdir(parents=True, exist_ok=True)
        if self._as_user is not None:
            user = pwd.getpwnam(self._as_user)
            os.chown(self.root, user.pw_uid, user.pw_gid)
        argv = [str(self.bindir / "initdb"), "-D", str(self.data), "-U", "postgres"]
        # --no-sync only skips initdb's own final flush of the fresh cluster.
        argv += ["-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync"]
        proc = self._popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        out, _ = proc.communicate(timeout=START_TIMEOUT_S)
        if proc.returncode != 0:
            raise RuntimeError(f"initdb failed:\n{out.decode(errors='replace')}")

    def start(self) -> None:
        """Start the server and wait until it accepts connections."""
        if self.running:
            return
        argv = [str(self.bindir / "postgres"), "-D", str(self.data), "-p", str(self.port)]
        settings = {
            "listen_addresses": "127.0.0.1",
            "unix_socket_directories": str(self.root),
            "fsync": "on",
            "synchronous_commit": "on",
            "full_page_writes": "on",
            "max_connections": "300",
            "shared_buffers": "64MB",
            "log_min_messages": "warning",
        }
        for name, value in settings.items():
            argv += ["-c", f"{name}={value}"]
        with self.log.open("ab") as log:
            self._proc = self._popen(argv, stdout=log, stderr=log, process_group=0)
        wait_for(self._ready, f"PostgreSQL on port {self.port}")

    def _ready(self) -> bool:
        if self._proc is not None and self._proc.poll() is not None:
            raise RuntimeError(f"PostgreSQL exited:\n{_tail(self.log)}")
        probe = subprocess.run(
            [str(self.bindir / "pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(self.port)],
            check=False,
        )
        return probe.returncode == 0

    def stop(self) -> None:
        """Fast shutdown (SIGINT): sessions are cut, committed data is flushed."""
        if self._proc is None:
            return
        if self._proc.poll() is None:
            self._proc.send_signal(signal.SIGINT)
            self._proc.wait(timeout=START_TIMEOUT_S)
        _wait_group_gone(self._proc.pid)
        self._proc = None

    def kill(self) -> None:
        """SIGKILL every server process at once (a crash); ``start()`` recovers."""
        if self._proc is None:
            return
        try:
            os.killpg(self._proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self._proc.wait(timeout=START_TIMEOUT_S)
        _wait_group_gone(self._proc.pid)
        self._proc = None

    def restart(self) -> None:
        """Clean stop, then start on the same port and data."""
        self.stop()
        self.start()

    async def fresh_database(self) -> str:
        """Create an empty, migrated database (from the session's template); its name."""
        import asyncpg

        if not self._template_ready:
            conn = await asyncpg.connect(self.dsn())
            try:
                await conn.execute(f'DROP DATABASE IF EXISTS "{self.TEMPLATE}"')
                await conn.execute(f'CREATE DATABASE "{self.TEMPLATE}"')
            finally:
                await conn.close()
            store = await Store.open(self.url(self.TEMPLATE))
            self._template_revision = await store.schema_revision()
            await store.close()
            self._template_ready = True
        name = f"test_{os.getpid()}_{next(self._names)}"
        conn = await asyncpg.connect(self.dsn())
        try:
            await conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{self.TEMPLATE}"')
        finally:
            await conn.close()
        return name

    async def acquire_database(self) -> str:
        """An empty, migrated database: a cleaned one from earlier tests, or a new one.

        Creating (and above all dropping: a checkpoint) databases costs seconds with
        fsync on, so test databases are emptied and reused instead.
        """
        if self._free:
            return self._free.pop()
        return await self.fresh_database()

    async def release_database(self, name: str) -> None:
        """Empty ``name`` for the next test; drop it if it cannot be emptied cleanly."""
        import asyncpg

        from meeple.store.schema import metadata

        try:
            admin = await asyncpg.connect(self.dsn())
            try:
                # Connections a test left open would hold locks or see the next test's rows.
                await admin.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = $1 AND pid <> pg_backend_pid()",
                    name,
                )
            finally:
                await admin.close()
            conn = await asyncpg.connect(self.dsn(name))
            try:
                async with conn.transaction():
                    await conn.execute("SET LOCAL lock_timeout = '5s'")
                    for table in reversed(metadata.sorted_tables):
                        await conn.execute(f'DELETE FROM "{table.name}"')
                    sequences = await conn.fetch(
                        "SELECT sequencename FROM pg_sequences WHERE schemaname = 'public'"
                    )
                    for seq in sequences:
                        await conn.execute(f'ALTER SEQUENCE "{seq["sequencename"]}" RESTART')
                    version = await conn.fetchval("SELECT version_num FROM alembic_version")
            finally:
                await conn.close()
            if version != self._template_revision:
                raise RuntimeError(f"schema of {name} changed to {version}")
        except Exception:
            await self.drop_database(name)
            return
        self._free.append(name)

    async def drop_database(self, name: str) -> None:
        """Drop a test database, cutting any connection still open to it."""
        import asyncpg

        conn = await asyncpg.connect(self.dsn())
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()


# ---------------------------------------------------------------------------- Redis


class RedisServer:
    """A ``redis-server`` owned by the test session, without persistence."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.port = free_port()
        self.log = root / "redis.log"
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """redis:// URL of database 0."""
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def running(self) -> bool:
        """Whether the server process is alive."""
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int | None:
        """The server's process id, if started."""
        return self._proc.pid if self._proc is not None else None

    def start(self) -> None:
        """Start the server and wait until it answers PING."""
        if self.running:
            return
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server not found: run scripts/system-deps")
        argv = [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""]
        argv += ["--appendonly", "no", "--dir", str(self.root), "--daemonize", "no"]
        with self.log.open("ab") as log:
            self._proc = subprocess.Popen(argv, stdout=log, stderr=log, process_group=0)
        wait_for(self._ready, f"Redis on port {self.port}")

    def _ready(self) -> bool:
        if self._proc is not None and self._proc.poll() is not None:
            raise RuntimeError(f"redis-server exited:\n{_tail(self.log)}")
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self) -> None:
        """Clean shutdown (SIGTERM)."""
        if self._proc is None:
            return
        if self._proc.poll() is None:
            self._proc.terminate()
            self._proc.wait(timeout=START_TIMEOUT_S)
        self._proc = None

    def kill(self) -> None:
        """SIGKILL the server (all its data is lost: there is no persistence)."""
        if self._proc is None:
            return
        if self._proc.poll() is None:
            self._proc.kill()
        self._proc.wait(timeout=START_TIMEOUT_S)
        self._proc = None

    def restart(self) -> None:
        """Clean stop, then start on the same port (empty)."""
        self.stop()
        self.start()

    def pause(self) -> None:
        """SIGSTOP the server: connections stay open but nothing answers."""
        if self._proc is not None:
            self._proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        """SIGCONT a paused server."""
        if self._proc is not None:
            self._proc.send_signal(signal.SIGCONT)


# ------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """The session's PostgreSQL server."""
    root = Path(tempfile.mkdtemp(prefix="meeple-pg-"))
    server = PostgresServer(root)
    try:
        server.init()
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
async def pg_url(postgres: PostgresServer) -> AsyncIterator[str]:
    """URL of a fresh, migrated, empty PostgreSQL database for this test."""
    postgres.start()  # a fault test before may have left it down
    name = await postgres.acquire_database()
    yield postgres.url(name)
    postgres.start()
    await postgres.release_database(name)


_sqlite_template: dict[str, Path] = {}


def _copy_sqlite(source: Path, target: Path) -> None:
    shutil.copyfile(source, target)
    wal = Path(f"{source}-wal")
    if wal.exists():
        shutil.copyfile(wal, f"{target}-wal")


@pytest.fixture
async def sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """URL of a fresh, migrated, empty SQLite file for this test."""
    if "path" not in _sqlite_template:
        path = tmp_path_factory.mktemp("sqlite-template") / "template.sqlite3"
        store = await Store.open(f"sqlite+aiosqlite:///{path}")
        await store.close()  # the last close checkpoints the WAL into the file
        _sqlite_template["path"] = path
    target = tmp_path_factory.mktemp("sqlite") / "meeple.sqlite3"
    _copy_sqlite(_sqlite_template["path"], target)
    return f"sqlite+aiosqlite:///{target}"


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest) -> str:
    """URL of a fresh, migrated, empty store on each backend."""
    url: str = request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_url")
    return url


@pytest.fixture
async def store(store_url: str) -> AsyncIterator[Store]:
    """A migrated, empty store on each backend (parametrized through ``store_url``)."""
    opened = await Store.open(store_url, migrate=False)
    try:
        yield opened
    finally:
        await opened.close()


@pytest.fixture(scope="session")
def redis() -> Iterator[RedisServer]:
    """The session's Redis server (no persistence)."""
    root = Path(tempfile.mkdtemp(prefix="meeple-redis-"))
    server = RedisServer(root)
    try:
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


__all__ = ["PostgresServer", "RedisServer", "free_port", "wait_for"]
