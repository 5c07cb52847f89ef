"""One real cluster for the whole ``tests/cluster`` package (started once: it costs seconds).

PostgreSQL is the session's server (tests/services.py) with a database of its own;
Redis is a server of the cluster's own (same class), so that restarting it cannot
disturb another test's data. Fault tests leave the cluster running again
(:meth:`Cluster.ensure_running` after each test).
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cluster.harness import NGINX, Cluster
from tests.services import PostgresServer, RedisServer


def _require_nginx() -> None:
    if not Path(NGINX).exists():
        pytest.fail("nginx not found: run scripts/system-deps")


@pytest.fixture(scope="package")
def cluster_root() -> Iterator[Path]:
    # Not under pytest's 0700 tmp dirs: nginx workers (nobody, when run as root) walk it.
    root = Path(tempfile.mkdtemp(prefix="meeple-cluster-"))
    root.chmod(0o755)
    try:
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="package")
def cluster_redis(cluster_root: Path) -> Iterator[RedisServer]:
    (cluster_root / "redis").mkdir()
    server = RedisServer(cluster_root / "redis")
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="package")
def cluster(
    postgres: PostgresServer, cluster_redis: RedisServer, cluster_root: Path
) -> Iterator[Cluster]:
    """The running cluster; nginx's address is ``cluster.url``."""
    _require_nginx()
    postgres.start()
    database = asyncio.run(postgres.acquire_database())
    the_cluster = Cluster(cluster_root, postgres, database, cluster_redis)
    try:
        the_cluster.start()
        yield the_cluster
    finally:
        the_cluster.stop()
        postgres.start()
        asyncio.run(postgres.release_database(database))


@pytest.fixture
def running(cluster: Cluster) -> Iterator[Cluster]:
    """The cluster for one test, brought back up afterwards whatever the test did."""
    yield cluster
    cluster.ensure_running()
