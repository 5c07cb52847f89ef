"""Matchmaking: queues by game, time control and stake; private games by invite code.

:class:`Matchmaker` is the service; :mod:`.grouping` its pure rating-window logic;
:mod:`.store` its rows. docs/engine.md explains the rules.
"""

from meeple.matchmaking.matchmaker import Matchmaker

__all__ = ["Matchmaker"]
