"""``meeple perft``: count legal move sequences, the rules' table of truth.

::

    meeple perft --game chess --depth 4                 # 197281
    meeple perft --game fourchess --depth 3 --divide    # one "move: count" line per first move
    meeple perft --game chess --fen "<FEN>" --depth 3

The last line of standard output is always the total, alone, so scripts can take
it with ``tail -n 1``. Progress goes to standard error. Unknown games, bad
positions and bad options exit with status 2 and a message on standard error.
"""

from __future__ import annotations

import argparse
import sys
import time

from meeple.rules import AnyGame, RulesError, get

# From this depth on, report progress after each first move: such runs take seconds.
PROGRESS_DEPTH = 4


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
    started = time.perf_counter()
    if depth >= PROGRESS_DEPTH or (args.divide and depth >= 1):
        counts = _divide(game, state, depth, progress=depth >= PROGRESS_DEPTH)
        total = sum(counts.values())
        if args.divide:
            for move, count in counts.items():
                sys.stdout.write(f"{move}: {count}\n")
    else:
        total = game.perft(state, depth)
    elapsed = time.perf_counter() - started
    if depth >= PROGRESS_DEPTH:
        rate = total / elapsed if elapsed > 0 else 0.0
        sys.stderr.write(f"perft({depth}) = {total} in {elapsed:.2f} s ({rate:,.0f} nodes/s)\n")
    sys.stdout.write(f"{total}\n")
    return 0


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


def _divide(game: AnyGame, state: object, depth: int, *, progress: bool) -> dict[str, int]:
    """perft below each first move, through the interface so progress can be shown."""
    first = [(seat, move) for seat in game.to_act(state) for move in game.legal_moves(state, seat)]
    counts: dict[str, int] = {}
    started = time.perf_counter()
    for i, (seat, move) in enumerate(first, 1):
        text = game.format_move(state, move)
        child = game.play(state, seat, move).state
        counts[text] = game.perft(child, depth - 1)
        if progress:
            elapsed = time.perf_counter() - started
            sys.stderr.write(f"[{i}/{len(first)}] {text}: {counts[text]} ({elapsed:.1f} s)\n")
            sys.stderr.flush()
    return counts
