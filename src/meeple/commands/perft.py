"""``meeple perft``: count legal move sequences, the rules' table of truth.

::

    meeple perft --game chess --depth 4                 # 197281
    meeple perft --game fourchess --depth 3 --divide    # one "move: count" line per first move
    meeple perft --game chess --fen "<FEN>" --depth 3

The last line of standard output is always the total, alone, so scripts can take
it with ``tail -n 1``. From depth 4, progress (a heartbeat every few seconds, then
the time and nodes/s) goes to standard error. Unknown games, bad
positions and bad options exit with status 2 and a message on standard error.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import threading
import time
from collections.abc import Iterator

from meeple.rules import AnyGame, RulesError, get

# From this depth on, runs take seconds to hours: report progress on stderr.
PROGRESS_DEPTH = 4
HEARTBEAT_SECONDS = 5.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Define ``meeple perft``'s arguments."""
    parser.add_argument(
        "--game", default="fourchess", help="registered game name (default: %(default)s)"
    )
    parser.add_argument(
        "--fen", help="start from this position (the game's text format: FEN, FEN4)"
    )
    parser.add_argument(
        "--option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="game option; repeat for several",
    )
    parser.add_argument("--seats", type=int, help="number of seats (default: the game's first)")
    parser.add_argument("--depth", type=int, required=True, help="sequence length (plies)")
    parser.add_argument(
        "--divide", action="store_true", help="print the count below each first move"
    )


def run(args: argparse.Namespace) -> int:
    """Run perft; 0 on success, 2 on a usage error."""
    try:
        game, state = _setup(args)
    except (RulesError, _UsageError) as exc:
        sys.stderr.write(f"meeple perft: error: {exc}\n")
        return 2
    depth: int = args.depth
    long_run = depth >= PROGRESS_DEPTH
    started = time.perf_counter()
    # The game's own perft and perft_divide are the truth: each game defines its
    # search convention (e.g. fourchess eliminates nobody during perft, unlike play()).
    with _heartbeat(depth, started) if long_run else contextlib.nullcontext():
        if args.divide and depth >= 1:
            counts = game.perft_divide(state, depth)
            total = sum(counts.values())
        else:
            counts, total = {}, game.perft(state, depth)
    for move, count in counts.items():
        sys.stdout.write(f"{move}: {count}\n")
    if long_run:
        elapsed = time.perf_counter() - started
        rate = total / elapsed if elapsed > 0 else 0.0
        sys.stderr.write(f"perft({depth}) = {total} in {elapsed:.2f} s ({rate:,.0f} nodes/s)\n")
    sys.stdout.write(f"{total}\n")
    return 0


@contextlib.contextmanager
def _heartbeat(depth: int, started: float) -> Iterator[None]:
    """Say on stderr, every HEARTBEAT_SECONDS, that a long count is still running."""
    done = threading.Event()

    def beat() -> None:
        while not done.wait(HEARTBEAT_SECONDS):
            elapsed = time.perf_counter() - started
            sys.stderr.write(f"perft({depth}): counting, {elapsed:.1f} s so far\n")
            sys.stderr.flush()

    thread = threading.Thread(target=beat, name="perft-heartbeat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()


class _UsageError(Exception):
    """A command-line mistake that is not a rules error (e.g. an option without '=')."""


def _setup(args: argparse.Namespace) -> tuple[AnyGame, object]:
    if args.depth < 0:
        raise _UsageError(f"--depth must be 0 or more, not {args.depth}")
    options: dict[str, str] = {}
    for item in args.option:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise _UsageError(f"--option takes KEY=VALUE, not {item!r}")
        options[key] = value
    game = get(args.game)
    if args.fen is not None:
        return game, game.position_from_text(args.fen, options)
    seats = args.seats if args.seats is not None else game.seat_counts[0]
    return game, game.new(seats, options)
