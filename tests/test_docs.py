"""docs/operations.md carries the exact output of ``meeple config --markdown``.

The table sits between ``<!-- settings:begin -->`` and ``<!-- settings:end -->``; a
setting added, renamed or redescribed in meeple.settings without updating the page
fails here (regenerate it with ``meeple config --markdown``).
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

OPERATIONS = Path(__file__).resolve().parents[1] / "docs" / "operations.md"
BEGIN, END = "<!-- settings:begin -->", "<!-- settings:end -->"


def embedded_table() -> str:
    text = OPERATIONS.read_text()
    assert text.count(BEGIN) == 1 and text.count(END) == 1, "markers missing or repeated"
    inside = text.split(BEGIN, 1)[1].split(END, 1)[0]
    return inside.strip("\n") + "\n"


def test_operations_settings_table_is_the_command_output() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "meeple.cli", "config", "--markdown"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert done.stdout.count("| `MEEPLE_") > 30  # the command printed the table
    assert embedded_table() == done.stdout, (
        "docs/operations.md's settings table is stale: paste `meeple config --markdown`"
    )


def test_operations_documents_every_metric() -> None:
    source = (OPERATIONS.parents[1] / "src" / "meeple" / "obs" / "metrics.py").read_text()
    defined = re.findall(r'(?:Counter|Gauge|Histogram)\(\s*"(meeple_\w+)"', source)
    assert len(defined) >= 10, defined
    text = OPERATIONS.read_text()
    missing = [name for name in defined if f"| `{name}" not in text]
    assert not missing, f"docs/operations.md's metrics table lacks {missing}"
