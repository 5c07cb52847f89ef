"""benchmarks/commit.py and benchmarks/engine.py still run (a few seconds each) and
print their figures."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _figures(script: str, *args: str) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / script), *args],
        capture_output=True,
        text=True,
        timeout=100,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    last = done.stdout.strip().splitlines()[-1].split()
    return {name: float(value) for name, value in zip(last[::2], last[1::2], strict=True)}


def test_commit_benchmark_appends_every_batch() -> None:
    figures = _figures("commit.py", "--batch", "4", "--rounds", "10")
    assert figures["items_per_s"] > 0
    assert figures["commit_p50_ms"] > 0


def test_engine_benchmark_plays_moves_through_the_engine() -> None:
    figures = _figures("engine.py", "--games", "2", "--seconds", "1.5")
    assert figures["moves_per_s"] > 0
    assert figures["events_per_commit"] >= 1
