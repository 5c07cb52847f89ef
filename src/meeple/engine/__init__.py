"""The engine tier: authoritative games, clocks, settlement.

:class:`Engine` owns shards of games by lease; :mod:`.table` is its pure core
(decisions over rules and clocks), :mod:`.loader` rebuilds games from their logs,
:mod:`.settlement` closes ended games (ratings, money). docs/engine.md explains it.
"""

from meeple.engine.engine import Engine

__all__ = ["Engine"]
