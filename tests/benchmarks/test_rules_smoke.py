"""The rules benchmark runs (quick mode) and prints figures that parse.

Benchmarks stay out of CI; this smoke test only keeps the harness working.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "rules.py"


def test_rules_benchmark_quick(tmp_path: Path) -> None:
    png = tmp_path / "bench.png"
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick", "--plot", str(png)],
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    rates = re.findall(
        r"^perft (fourchess|python-chess) (start|mid-game): depth (\d+), "
        r"(\d+) nodes, ([\d.]+) s, (\d+) nodes/s$",
        out,
        re.MULTILINE,
    )
    assert {(game, where) for game, where, *_ in rates} == {
        ("fourchess", "start"),
        ("fourchess", "mid-game"),
        ("python-chess", "start"),
        ("python-chess", "mid-game"),
    }
    starts = {game: int(nodes) for game, where, _, nodes, _, _ in rates if where == "start"}
    assert starts == {"fourchess": 7800, "python-chess": 8902}  # perft(3) of each start
    assert all(int(rate) > 0 for *_, rate in rates)
    ratio = re.search(r"^ratio fourchess/python-chess: ([\d.]+)$", out, re.MULTILINE)
    assert ratio and float(ratio.group(1)) > 0
    medians = re.findall(r"^median parse_move\+play (\w+): ([\d.]+) us$", out, re.MULTILINE)
    assert {name for name, _ in medians} == {"fourchess", "chess"}
    cycle = re.search(r"^engine move cycle fourchess: ([\d.]+) us/move$", out, re.MULTILINE)
    assert cycle and float(cycle.group(1)) > 0
    verdicts = re.findall(r"^goal (.+): .+ (PASS|FAIL)$", out, re.MULTILINE)
    assert len(verdicts) == 2
    assert "python-chess perft start" in done.stderr  # progress
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
