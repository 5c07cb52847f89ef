"""benchmarks/serve.py still runs: its --quick mode, figures on stdout, a PNG plot."""

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
            "--only",
            "relay",
            "--plot",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=100,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    row = next(line for line in done.stdout.splitlines() if line.startswith("relay, no think"))
    moves_per_s = float(row.split()[3])
    assert moves_per_s > 0
    assert re.search(r"phase .* moves/s", done.stderr)
    assert (tmp_path / "serve-latency.png").stat().st_size > 1000
