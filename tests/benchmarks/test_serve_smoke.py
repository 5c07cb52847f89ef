"""benchmarks/serve.py still runs: --quick against the relay and a real meeple serve,
figures on stdout, a PNG plot."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_serve_benchmark_quick_run_prints_figures_and_a_plot(tmp_path: Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "serve.py"),
            "--quick",
            "--plot",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=110,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    rows = {line[:26].strip(): line[26:].split() for line in done.stdout.splitlines()}
    for phase in ("relay, no think", "meeple, no think"):  # both servers moved pieces
        assert float(rows[phase][0]) > 0, done.stdout
    assert "meeple/relay moves/s ratio:" in done.stdout
    assert "half-load ack p99:" in done.stdout
    assert re.search(r"phase .* moves/s", done.stderr)
    assert (tmp_path / "serve-latency.png").stat().st_size > 1000
