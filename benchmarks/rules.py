"""Rules speed: fourchess against python-chess, measured in the same run.

    .venv/bin/python benchmarks/rules.py [--quick] [--plot artifacts/rules-bench.png]

Prints, on standard output:

* perft nodes/s of fourchess (start and a mid-game position) and of python-chess
  on classic chess (start and a mid-game position), both counting the same way:
  make/unmake to the last ply, whose moves are counted in bulk (not played);
* their ratio (fourchess / python-chess, total nodes over total time);
  perft times are CPU time of this process, so helpers sharing the machine's cores
  skew the figures less;
* the median time to validate and apply one move (``parse_move`` + ``play``) from
  mid-game positions reached by seeded random playouts, for both games;
* the goals (ratio >= 0.5, fourchess median <= 100 us) with PASS or FAIL each;
* the fourchess "engine move cycle": the mean time of the rules calls the engine
  makes per accepted move (``parse_move`` + ``play`` + ``format_move`` on the
  old state, then ``position_to_text``, ``legal_moves`` formatted, ``to_act``
  and ``result`` on the new one), over seeded random games from the start
  (CPU time, best of a few runs).

``--cycle`` prints the engine move cycle alone (a few seconds).

Progress goes to standard error. A bar chart (matplotlib, Agg) goes to --plot.
The exit status is 0 whatever the verdicts: this measures, CI does not gate on it.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import chess

from meeple.rules import AnyGame, get

RATIO_GOAL = 0.5
MEDIAN_GOAL_US = 100.0
SEED = 20240607


@dataclass(frozen=True)
class PerftRun:
    """One timed perft."""

    label: str
    depth: int
    nodes: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.nodes / self.seconds


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def random_state(game: AnyGame, seats: int, plies: int, rng: random.Random) -> object:
    """A state after up to ``plies`` random legal moves (stops early if the game ends)."""
    state = game.new(seats)
    for _ in range(plies):
        if game.result(state) is not None:
            break
        seat = rng.choice(game.to_act(state))
        moves = game.legal_moves(state, seat)
        state = game.play(state, seat, rng.choice(list(moves))).state
    return state


def classic_perft(board: chess.Board, depth: int) -> int:
    """python-chess perft with bulk counting at the last ply (as fourchess counts)."""
    if depth == 1:
        return board.legal_moves.count()
    total = 0
    for move in board.legal_moves:
        board.push(move)
        total += classic_perft(board, depth - 1)
        board.pop()
    return total


def time_fourchess(game: AnyGame, label: str, state: object, depth: int) -> PerftRun:
    progress(f"fourchess perft {label} depth {depth} ...")
    game.perft(state, 2)  # warm up (attack tables are built on first use)
    started = time.process_time()
    nodes = game.perft(state, depth)
    return PerftRun(f"fourchess {label}", depth, nodes, time.process_time() - started)


def time_classic(label: str, board: chess.Board, depth: int) -> PerftRun:
    progress(f"python-chess perft {label} depth {depth} ...")
    board = board.copy(stack=False)
    classic_perft(board, 2)  # warm up, as for fourchess
    started = time.process_time()
    nodes = classic_perft(board, depth)
    return PerftRun(f"python-chess {label}", depth, nodes, time.process_time() - started)


def move_samples(
    game: AnyGame, seats: int, count: int, rng: random.Random
) -> list[tuple[object, int, str]]:
    """(state, seat, move text) from mid-game positions of seeded random playouts."""
    samples: list[tuple[object, int, str]] = []
    while len(samples) < count:
        state = random_state(game, seats, rng.randrange(10, 60), rng)
        if game.result(state) is not None:
            continue
        seat = rng.choice(game.to_act(state))
        move = rng.choice(list(game.legal_moves(state, seat)))
        samples.append((state, seat, game.format_move(state, move)))
    return samples


def median_move_us(game: AnyGame, samples: list[tuple[object, int, str]], repeat: int) -> float:
    """Median over samples of the best of ``repeat`` timings of parse_move + play."""
    progress(f"{game.name}: timing parse_move + play on {len(samples)} positions ...")
    clock = time.perf_counter_ns
    best: list[int] = []
    for state, seat, text in samples:
        times = []
        for _ in range(repeat):
            started = clock()
            game.play(state, seat, game.parse_move(state, seat, text))
            times.append(clock() - started)
        best.append(min(times))
    return statistics.median(best) / 1000


def cycle_games(game: AnyGame, moves: int, rng: random.Random) -> list[list[tuple[int, str]]]:
    """Seeded random games from the start, as (seat, move text) lists, ``moves`` in all."""
    games: list[list[tuple[int, str]]] = []
    total = 0
    while total < moves:
        state = game.new(4)
        played: list[tuple[int, str]] = []
        while total < moves and game.result(state) is None:
            seat = game.to_act(state)[0]
            move = rng.choice(list(game.legal_moves(state, seat)))
            played.append((seat, game.format_move(state, move)))
            state = game.play(state, seat, move).state
            total += 1
        games.append(played)
    return games


def engine_cycle_us(game: AnyGame, games: list[list[tuple[int, str]]], repeat: int) -> float:
    """Best of ``repeat`` mean times per move of the engine's rules calls (see the
    module docstring), replaying ``games``."""
    progress(f"{game.name}: timing the engine move cycle over {sum(map(len, games))} moves ...")
    clock = time.process_time_ns  # CPU time, as for perft: helpers share the cores
    best = None
    for _ in range(repeat):
        started = clock()
        for played in games:
            state = game.new(4)
            for seat, text in played:
                move = game.parse_move(state, seat, text)
                outcome = game.play(state, seat, move)
                game.format_move(state, move)
                state = outcome.state
                game.position_to_text(state)
                for s in game.to_act(state):
                    [game.format_move(state, m) for m in game.legal_moves(state, s)]
                game.result(state)
        elapsed = clock() - started
        best = elapsed if best is None else min(best, elapsed)
    assert best is not None
    return best / sum(map(len, games)) / 1000


def plot(path: Path, runs: list[PerftRun], medians: dict[str, float]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4), width_ratios=(2, 1))
    colors = ["tab:blue" if r.label.startswith("fourchess") else "tab:gray" for r in runs]
    left.bar(
        [r.label.replace(" ", "\n", 1) for r in runs], [r.rate / 1000 for r in runs], color=colors
    )
    left.set_ylabel("perft k nodes/s")
    left.set_title("perft speed (bulk counting)")
    names = list(medians)
    right.bar(names, [medians[n] for n in names], color=["tab:blue", "tab:gray"][: len(names)])
    right.axhline(
        MEDIAN_GOAL_US, color="tab:red", linestyle="--", label=f"goal {MEDIAN_GOAL_US:g} us"
    )
    right.set_ylabel("median us")
    right.set_title("parse_move + play")
    right.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=80)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small depths, a few seconds")
    parser.add_argument("--cycle", action="store_true", help="the engine move cycle only")
    parser.add_argument("--plot", type=Path, default=Path("artifacts/rules-bench.png"))
    args = parser.parse_args(argv)

    fourchess, classic = get("fourchess"), get("chess")
    rng = random.Random(SEED)
    cycle_moves, cycle_repeat = (100, 2) if args.quick else (400, 5)
    cycle_replay = cycle_games(fourchess, cycle_moves, random.Random(SEED))
    cycle = engine_cycle_us(fourchess, cycle_replay, cycle_repeat)
    if args.cycle:
        print(f"engine move cycle fourchess: {cycle:.1f} us/move")
        return 0
    four_depth, four_mid_depth = (3, 3) if args.quick else (4, 4)
    chess_depth, chess_mid_depth = (3, 3) if args.quick else (4, 4)
    four_mid = random_state(fourchess, 4, 24, rng)
    chess_mid = random_state(classic, 2, 16, rng)
    chess_mid_board = chess.Board(classic.position_to_text(chess_mid))

    runs = [
        time_fourchess(fourchess, "start", fourchess.new(4), four_depth),
        time_fourchess(fourchess, "mid-game", four_mid, four_mid_depth),
        time_classic("start", chess.Board(), chess_depth),
        time_classic("mid-game", chess_mid_board, chess_mid_depth),
    ]
    count, repeat = (40, 3) if args.quick else (300, 5)
    medians = {
        "fourchess": median_move_us(fourchess, move_samples(fourchess, 4, count, rng), repeat),
        "chess": median_move_us(classic, move_samples(classic, 2, count, rng), repeat),
    }

    print(f"rules benchmark ({'quick' if args.quick else 'full'}), python {sys.version.split()[0]}")
    for run in runs:
        print(
            f"perft {run.label}: depth {run.depth}, {run.nodes} nodes, "
            f"{run.seconds:.3f} s, {run.rate:.0f} nodes/s"
        )
    four_runs = [r for r in runs if r.label.startswith("fourchess")]
    classic_runs = [r for r in runs if r.label.startswith("python-chess")]
    four_rate = sum(r.nodes for r in four_runs) / sum(r.seconds for r in four_runs)
    classic_rate = sum(r.nodes for r in classic_runs) / sum(r.seconds for r in classic_runs)
    ratio = four_rate / classic_rate
    print(f"perft fourchess total: {four_rate:.0f} nodes/s")
    print(f"perft python-chess total: {classic_rate:.0f} nodes/s")
    print(f"ratio fourchess/python-chess: {ratio:.2f}")
    for name, median in medians.items():
        print(f"median parse_move+play {name}: {median:.1f} us")
    print(f"engine move cycle fourchess: {cycle:.1f} us/move")
    verdicts = [
        ("perft ratio >= 0.5", ratio >= RATIO_GOAL, f"{ratio:.2f}"),
        (
            "fourchess move median <= 100 us",
            medians["fourchess"] <= MEDIAN_GOAL_US,
            f"{medians['fourchess']:.1f} us",
        ),
    ]
    for goal, ok, figure in verdicts:
        print(f"goal {goal}: {figure} {'PASS' if ok else 'FAIL'}")

    plot(args.plot, runs, medians)
    print(f"plot: {args.plot}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
