"""Make the example game importable as its own top-level module, as if installed."""

from __future__ import annotations

import sys
from pathlib import Path

TICTACTOE_DIR = Path(__file__).resolve().parents[2] / "examples" / "tictactoe"
if str(TICTACTOE_DIR) not in sys.path:
    sys.path.insert(0, str(TICTACTOE_DIR))
