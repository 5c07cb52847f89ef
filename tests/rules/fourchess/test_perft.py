"""Golden perft numbers (perft.txt), the fast generator against them, and the
independent brute-force reference (reference.py) against the fast generator.

CI runs depths 1-3 of every position, depth 4 of the start position, and the
reference at depth 2 everywhere (depth 3 on the start position). Set
``MEEPLE_SLOW_PERFT=1`` for depth 4 everywhere and the reference at depth 3
everywhere (several minutes).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import NamedTuple

import pytest

from meeple.rules import Game
from meeple.rules.fourchess import FourChess, FourChessState
from tests.rules.fourchess import reference

GAME = FourChess()
SLOW = os.environ.get("MEEPLE_SLOW_PERFT") == "1"


class Golden(NamedTuple):
    id: str
    fen4: str
    promotion: str
    counts: dict[int, int]


def load() -> list[Golden]:
    out: list[Golden] = []
    block: dict[str, str] = {}
    counts: dict[int, int] = {}
    lines = [*(Path(__file__).parent / "perft.txt").read_text().splitlines(), ""]
    for line in lines:
        if line.startswith("#"):
            continue
        if not line.strip():
            if block:
                out.append(Golden(block["id"], block["fen4"], block["promotion"], counts))
            block, counts = {}, {}
            continue
        key, _, value = line.partition(" ")
        if key == "perft":
            depth, count = value.split()
            counts[int(depth)] = int(count)
        else:
            block[key] = value
    return out


GOLDEN = load()


def state_of(g: Golden) -> FourChessState:
    return GAME.position_from_text(g.fen4, {"promotion": g.promotion})


def test_golden_file_covers_the_features() -> None:
    assert {g.id for g in GOLDEN} >= {"start", "castling", "ep", "promo", "grey", "kingcap"}
    start = next(g for g in GOLDEN if g.id == "start")
    assert start.counts == {1: 20, 2: 395, 3: 7800, 4: 152050}


@pytest.mark.parametrize("g", GOLDEN, ids=lambda g: g.id)
def test_fast_perft_matches_golden(g: Golden) -> None:
    s = state_of(g)
    deepest = 4 if SLOW or g.id == "start" else 3
    for depth, count in g.counts.items():
        if depth <= deepest:
            assert GAME.perft(s, depth) == count, (g.id, depth)


@pytest.mark.parametrize("g", GOLDEN, ids=lambda g: g.id)
def test_reference_agrees(g: Golden) -> None:
    ref = reference.Pos(g.fen4, g.promotion == "any")
    deepest = 3 if SLOW or g.id == "start" else 2
    for depth in range(1, deepest + 1):
        assert reference.perft(ref, depth) == g.counts[depth], (g.id, depth)


@pytest.mark.parametrize("g", GOLDEN[:4], ids=lambda g: g.id)
def test_divide_sums_to_perft_and_the_interface_walk_agrees(g: Golden) -> None:
    s = state_of(g)
    divide = GAME.perft_divide(s, 2)
    assert sum(divide.values()) == g.counts[2]
    assert sorted(divide) == sorted(GAME.format_move(s, m) for m in GAME.legal_moves(s, s.turn))
    # Game's default perft walks legal_moves/play: the public path agrees with the search
    assert Game.perft(GAME, s, 2) == g.counts[2]


def test_perft_depth_zero_is_one() -> None:
    assert GAME.perft(GAME.new(4), 0) == 1
