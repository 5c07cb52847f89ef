"""``meeple bots``: a fleet of bots that queue and play random legal moves.

::

    meeple bots --count 8                                   # fourchess 3+2, until Ctrl-C
    meeple bots --count 2 --game chess --games 5 --think-ms 200
    MEEPLE_OPERATOR_PASSWORD=... meeple bots --count 4 --stake 100 --operator ops

Bots are accounts ``bot-1`` ... ``bot-N``, registered on first use; their passwords
derive from a secret in ``$MEEPLE_DATA_DIR/meeple-bots.json`` (or ``~/.cache``).
For staked games, ``--operator`` names an operator account whose deposits top up a
bot's wallet when it cannot cover the stake.
Progress goes to standard error; the exit status is 0 when every bot finished.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import sys
from pathlib import Path

from meeple.bots import BotAccounts, BotPlan, run_fleet
from meeple.client import ClientError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Define ``meeple bots``'s arguments."""
    parser.add_argument("--count", type=int, required=True, help="number of bots")
    parser.add_argument("--game", default="fourchess", help="game (default: %(default)s)")
    parser.add_argument(
        "--url", default="http://127.0.0.1:8000", help="server address (default: %(default)s)"
    )
    parser.add_argument(
        "--time-control", default="3+2", help="minutes+increment (default: %(default)s)"
    )
    parser.add_argument("--stake", type=int, default=0, help="stake, minor units (default: 0)")
    parser.add_argument("--games", type=int, help="games per bot (default: until interrupted)")
    parser.add_argument("--think-ms", type=int, default=0, help="think time per move, ms")
    parser.add_argument("--first", type=int, default=1, help="number of the first bot (default 1)")
    parser.add_argument("--seed", type=int, help="random seed (default: random)")
    parser.add_argument("--secrets", type=Path, help="the bots' secret file (default: see above)")
    parser.add_argument(
        "--operator",
        help="operator account that tops up bots' wallets for staked games "
        "(password from MEEPLE_OPERATOR_PASSWORD)",
    )


def _progress(line: str) -> None:
    sys.stderr.write(line + "\n")
    sys.stderr.flush()


def run(args: argparse.Namespace) -> int:
    """Run the fleet; 0 when every bot finished, 1 on a failure, 2 on a usage error."""
    if args.count < 1 or (args.games is not None and args.games < 1) or args.think_ms < 0:
        sys.stderr.write("meeple bots: error: --count and --games must be >= 1, --think-ms >= 0\n")
        return 2
    if not re.fullmatch(r"\d{1,3}\+\d{1,3}", args.time_control):
        sys.stderr.write(f"meeple bots: error: bad --time-control {args.time_control!r}\n")
        return 2
    operator = None
    if args.operator:
        password = os.environ.get("MEEPLE_OPERATOR_PASSWORD")
        if not password:
            sys.stderr.write("meeple bots: error: --operator needs MEEPLE_OPERATOR_PASSWORD\n")
            return 2
        operator = (args.operator, password)
    plan = BotPlan(
        game=args.game,
        time_control=args.time_control,
        stake=args.stake,
        games=args.games,
        think_ms=args.think_ms,
    )
    try:
        stats = asyncio.run(
            run_fleet(
                args.url,
                args.count,
                plan,
                accounts=BotAccounts(args.secrets),
                first=args.first,
                seed=args.seed,
                progress=_progress,
                operator=operator,
            )
        )
    except KeyboardInterrupt:
        _progress("meeple bots: interrupted")
        return 0
    except ClientError as exc:
        sys.stderr.write(f"meeple bots: error: {exc}\n")
        return 1
    games = sum(s.games for s in stats)
    moves = sum(s.moves for s in stats)
    _progress(f"meeple bots: {len(stats)} bots played {games} seat-games, {moves} moves")
    return 0
