"""Ratings with openskill's Plackett-Luce model (any number of seats, ties allowed).

Pure: the same ratings and placings give the same new ratings, so a game's
``game_over`` event can carry them and a replay computes them again exactly.
The displayed rating is a conservative integer: ``1500 + 40 * (mu - 3 sigma)``,
so a new player (mu 25, sigma 25/3) shows 1500 and the number only grows once
the model is confident.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from openskill.models import PlackettLuce

_MODEL = PlackettLuce()
DEFAULT_MU: float = _MODEL.mu
DEFAULT_SIGMA: float = _MODEL.sigma


@dataclass(frozen=True, slots=True)
class Skill:
    """A player's rating in one game: model mean and uncertainty."""

    mu: float = DEFAULT_MU
    sigma: float = DEFAULT_SIGMA

    @property
    def display(self) -> int:
        """The integer rating people see (and the matchmaker compares)."""
        return display_rating(self.mu, self.sigma)


def display_rating(mu: float, sigma: float) -> int:
    """``round(1500 + 40 * (mu - 3 * sigma))``."""
    return round(1500 + 40 * (mu - 3 * sigma))


def rate(skills: Sequence[Skill], placings: Sequence[int]) -> list[Skill]:
    """New skills of the seats after a game placed ``placings`` (1 = best, ties share)."""
    if len(skills) != len(placings):
        raise ValueError(f"{len(skills)} skills for {len(placings)} placings")
    teams = [[_MODEL.rating(mu=s.mu, sigma=s.sigma)] for s in skills]
    rated = _MODEL.rate(teams, ranks=[float(p) for p in placings])
    return [Skill(mu=team[0].mu, sigma=team[0].sigma) for team in rated]
