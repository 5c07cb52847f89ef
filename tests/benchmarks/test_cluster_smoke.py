"""benchmarks/cluster.py still runs: --quick starts PostgreSQL, Redis and the roles as
separate processes (1+1, then 2+2), prints figures that parse, kills an engine once
and times its games' next moves, and draws the PNG."""

from __future__ import annotations

import math
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TIERS = ("api", "gateway", "engine", "redis", "postgres")


def _tables(out: str) -> list[dict[str, list[str]]]:
    """The rows (config -> the fields after it) of each ``#``-headed table."""
    tables: list[dict[str, list[str]]] = []
    for line in out.splitlines():
        if line.startswith("# "):
            tables.append({})
        elif re.match(r"^\d\+\d (max|paced) ", line) and tables:
            fields = line.split()
            tables[-1][" ".join(fields[:2])] = fields[2:]
    return [t for t in tables if t]


def test_cluster_benchmark_quick_run_prints_figures_failover_and_a_plot(tmp_path: Path) -> None:
    png = tmp_path / "cluster.png"
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "cluster.py"), "--quick", "--plot", str(png)],
        capture_output=True,
        text=True,
        timeout=115,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    out = done.stdout
    tables = _tables(out)
    assert len(tables) == 4, out  # load, CPU per move, RSS, server counters per move
    load, cpu, rss, servers = tables
    assert list(load) == ["1+1 max", "2+2 max"], out
    for config, row in load.items():
        moves, ack50, ack99, dlv99 = (float(x) for x in row[:4])
        assert moves > 0, (config, out)  # both clusters moved pieces
        assert 0 < ack50 <= ack99, (config, out)
        assert dlv99 > 0, (config, out)
    for config, row in cpu.items():
        figures = dict(zip((*TIERS, "total"), map(float, row), strict=True))
        assert figures["engine"] > 0 and figures["gateway"] > 0, (config, out)
        assert figures["postgres"] > 0 and figures["redis"] > 0, (config, out)
        assert math.isclose(sum(figures[t] for t in TIERS), figures["total"], abs_tol=0.01)
    for config, row in rss.items():
        assert all(float(x) > 1 for x in row), (config, out)  # MiB of every tier
    for config, row in servers.items():
        commits, wal, _growth, redis_commands, event_bytes = (float(x) for x in row)
        assert 0 < commits and 0 < wal and 0 < redis_commands, (config, out)
        assert 100 < event_bytes < 16384, (config, out)  # a move event's stored body
    kill = re.search(
        r"^failover: 1 kills, (\d+) games, p50 ([\d.]+) s, p99 ([\d.]+) s, max ([\d.]+) s, "
        r"stalled (\d+) \(goal p99 < 3 s\) (PASS|FAIL)$",
        out,
        re.MULTILINE,
    )
    assert kill, out
    games, p50, p99, worst, stalled = (float(x) for x in kill.groups()[:5])
    assert games >= 1 and stalled == 0, out  # the victim's games moved again
    assert 0 < p50 <= p99 <= worst < 30, out  # after the kill, within the load's retries
    assert "SIGKILL" in done.stderr  # progress
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
