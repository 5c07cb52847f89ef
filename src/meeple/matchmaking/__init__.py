"""Matchmaking: queues by game, time control and stake."""
