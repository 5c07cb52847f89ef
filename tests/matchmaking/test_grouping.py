"""Grouping players by rating, with windows that widen while they wait."""

import pytest

from meeple.matchmaking.grouping import Waiting, Window, group, parse_time_control

W = Window(base=100, growth_per_s=20)


def test_four_close_ratings_make_one_fourchess_group() -> None:
    entries = [Waiting(i, 1500 + 10 * i, 0) for i in range(1, 6)]
    groups = group(entries, 4, W, now_ms=0)
    assert [tuple(m.player_id for m in g) for g in groups] == [(1, 2, 3, 4)]


def test_window_widens_with_waiting() -> None:
    entries = [Waiting(1, 1500, 0), Waiting(2, 1800, 0)]
    assert group(entries, 2, W, now_ms=5_000) == []  # window 200 < 300
    assert len(group(entries, 2, W, now_ms=10_000)) == 1  # window 300
    # Both must accept: a newcomer's narrow window holds the match back.
    late = [Waiting(1, 1500, 0), Waiting(2, 1800, 9_000)]
    assert group(late, 2, W, now_ms=10_000) == []


def test_nearest_ratings_pair_up_oldest_first() -> None:
    entries = [Waiting(1, 1500, 0), Waiting(2, 1590, 1), Waiting(3, 1510, 2), Waiting(4, 1600, 3)]
    pairs = {tuple(sorted(m.player_id for m in g)) for g in group(entries, 2, W, now_ms=0)}
    assert pairs == {(1, 3), (2, 4)}


def test_time_control_text() -> None:
    assert parse_time_control("3+2") == (180_000, 2_000)
    with pytest.raises(ValueError):
        parse_time_control("3 minutes")
