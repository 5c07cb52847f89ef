"""Splitting a game's pot by placings: pure integer arithmetic, no I/O.

The house takes ``rake_bps`` basis points of the pot (rounded down); the rest is
shared by placing with a payout table in percent. Players tied on a place share
the summed shares of the places they occupy (two tied for 2nd of 4 split the 2nd
and 3rd shares). Every indivisible remainder goes to the house, so the pot is
always paid out exactly.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from meeple.ledger.errors import InvalidRequest


@dataclass(frozen=True, slots=True)
class Split:
    """How a pot is paid: ``payouts[i]`` to the i-th seat, ``house`` to the house."""

    payouts: tuple[int, ...]
    house: int


def check_placings(placings: Sequence[int]) -> None:
    """Require standard competition ranking: 1-based, ties share a place, next skips.

    ``[1, 2, 2, 4]`` is valid (two tied second); ``[1, 2, 2, 3]`` is not.
    """
    counts = Counter(placings)
    expected = 1
    for place in sorted(counts):
        if place != expected:
            raise InvalidRequest(
                f"placings {list(placings)} are not a competition ranking "
                f"(expected place {expected}, got {place})"
            )
        expected += counts[place]


def check_payout_table(payout_percent: Sequence[int], seats: int) -> None:
    """Require non-negative integer percentages, summing to 100, one per place at most."""
    if any(not isinstance(p, int) or isinstance(p, bool) or p < 0 for p in payout_percent):
        raise InvalidRequest(f"payout table {list(payout_percent)} has a negative or non-integer")
    if sum(payout_percent) != 100:
        raise InvalidRequest(f"payout table {list(payout_percent)} does not sum to 100")
    if any(payout_percent[seats:]):
        raise InvalidRequest(f"payout table {list(payout_percent)} pays places beyond {seats}")


def split_pot(
    pot: int, placings: Sequence[int], payout_percent: Sequence[int], rake_bps: int
) -> Split:
    """Split ``pot`` among seats placed ``placings`` (see the module docstring)."""
    if not 0 <= rake_bps <= 10_000:
        raise InvalidRequest(f"rake {rake_bps} bps is outside 0..10000")
    if pot < 0:
        raise InvalidRequest(f"pot {pot} is negative")
    check_placings(placings)
    check_payout_table(payout_percent, len(placings))
    table = list(payout_percent) + [0] * (len(placings) - len(payout_percent))
    net = pot - pot * rake_bps // 10_000
    counts = Counter(placings)
    per_seat: dict[int, int] = {}
    for place, tied in counts.items():
        percent = sum(table[place - 1 : place - 1 + tied])
        per_seat[place] = net * percent // 100 // tied
    payouts = tuple(per_seat[place] for place in placings)
    return Split(payouts=payouts, house=pot - sum(payouts))
