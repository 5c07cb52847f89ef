"""Bots that play random legal moves: accounts ``bot-<n>``, one client each."""

from meeple.bots.accounts import BotAccounts, bot_name
from meeple.bots.bot import Bot, BotPlan, BotStats
from meeple.bots.fleet import run_fleet

__all__ = ["Bot", "BotAccounts", "BotPlan", "BotStats", "bot_name", "run_fleet"]
