"""Splitting a pot: integer arithmetic, ties, rake and remainders."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from meeple.ledger.errors import InvalidRequest
from meeple.ledger.payout import Split, check_placings, split_pot


def test_plain_split_with_rake() -> None:
    # pot 400, rake 5% = 20, net 380: 70% = 266, 30% = 114.
    assert split_pot(400, [2, 1, 3, 4], [70, 30, 0, 0], 500) == Split((114, 266, 0, 0), 20)


def test_no_rake_winner_takes_all() -> None:
    assert split_pot(200, [1, 2], [100, 0], 0) == Split((200, 0), 0)


def test_tie_shares_the_summed_places() -> None:
    # Two tied for 1st share 70 + 30: 190 each of net 380.
    assert split_pot(400, [1, 1, 3, 4], [70, 30, 0, 0], 500) == Split((190, 190, 0, 0), 20)
    # Two tied 2nd of 4 share the 2nd and 3rd shares (30 + 0).
    assert split_pot(400, [1, 2, 2, 4], [70, 30, 0, 0], 500) == Split((266, 57, 57, 0), 20)


def test_remainders_go_to_the_house() -> None:
    # pot 101, rake 5% = 5 (floor of 5.05), net 96; three tied first: 32 each, 0 left.
    assert split_pot(101, [1, 1, 1], [100], 500) == Split((32, 32, 32), 5)
    # pot 103, no rake, three tied: 34 each, 1 to the house.
    assert split_pot(103, [1, 1, 1], [100, 0, 0], 0) == Split((34, 34, 34), 1)
    # 70% of 99 = 69.3 -> 69; 30% -> 29; 1 left for the house.
    assert split_pot(99, [1, 2], [70, 30], 0) == Split((69, 29), 1)


def test_everyone_tied_is_a_draw() -> None:
    assert split_pot(400, [1, 1, 1, 1], [70, 30, 0, 0], 500) == Split((95, 95, 95, 95), 20)


@pytest.mark.parametrize("placings", [[1, 2, 2, 3], [0, 1], [2, 3], [1, 3], [], [1, 1, 2]])
def test_bad_placings(placings: list[int]) -> None:
    if not placings:
        check_placings(placings)  # nobody placed is a valid (empty) ranking
        return
    with pytest.raises(InvalidRequest):
        check_placings(placings)


@pytest.mark.parametrize(
    ("payout", "rake"),
    [([70, 20], 0), ([50, 50, 10, -10], 0), ([0, 0, 0, 0, 100], 0), ([100], -1), ([100], 10_001)],
)
def test_bad_tables_and_rakes(payout: list[int], rake: int) -> None:
    with pytest.raises(InvalidRequest) as caught:
        split_pot(400, [1, 2, 3, 4], payout, rake)
    assert caught.value.code == "invalid_request"


@st.composite
def rankings(draw: st.DrawFn) -> list[int]:
    scores = draw(st.lists(st.integers(0, 3), min_size=1, max_size=6))
    return [1 + sum(other > mine for other in scores) for mine in scores]


@st.composite
def tables(draw: st.DrawFn, seats: int) -> list[int]:
    cuts = sorted(draw(st.lists(st.integers(0, 100), min_size=seats - 1, max_size=seats - 1)))
    bounds = [0, *cuts, 100]
    return [b - a for a, b in itertools.pairwise(bounds)]


@given(st.data(), st.integers(0, 10**12), st.integers(0, 10_000))
def test_the_pot_is_always_paid_exactly(data: st.DataObject, pot: int, rake: int) -> None:
    placings = data.draw(rankings())
    table = data.draw(tables(len(placings)))
    split = split_pot(pot, placings, table, rake)
    assert sum(split.payouts) + split.house == pot
    assert split.house >= pot * rake // 10_000
    assert all(p >= 0 for p in split.payouts)
    # Equal places are paid equally; a better place never gets less than a worse one
    # when the table is non-increasing.
    for i, a in enumerate(placings):
        for j, b in enumerate(placings):
            if a == b:
                assert split.payouts[i] == split.payouts[j]
    if table == sorted(table, reverse=True):
        for i, a in enumerate(placings):
            for j, b in enumerate(placings):
                if a < b:
                    assert split.payouts[i] >= split.payouts[j]
    # The house keeps less than one unit per seat beyond the rake's rounding.
    assert split.house - pot * rake // 10_000 < len(placings) + 2
