"""A fleet of bots playing at one server: ``meeple bots`` and the tests run one."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable

import httpx

from meeple import rules
from meeple.bots.accounts import BotAccounts, bot_name
from meeple.bots.bot import Bot, BotPlan, BotStats

log = logging.getLogger(__name__)

# Logins hash passwords (argon2id, 64 MiB): a few at a time keeps the server responsive.
LOGIN_CONCURRENCY = 4


async def run_fleet(
    base_url: str,
    count: int,
    plan: BotPlan,
    *,
    accounts: BotAccounts | None = None,
    first: int = 1,
    seed: int | None = None,
    progress: Callable[[str], None] | None = None,
    api_transport: httpx.AsyncBaseTransport | None = None,
) -> list[BotStats]:
    """Run ``count`` bots (``bot-<first>`` ...) until each has played ``plan.games`` games.

    Bots that can no longer be matched (the rest of the fleet is done and too few
    of them are left to fill a table) leave the queue and stop.
    """
    accounts = accounts or BotAccounts()
    seats = min(rules.get(plan.game).seat_counts)
    rng = random.Random(seed)
    active = count
    logins = asyncio.Semaphore(LOGIN_CONCURRENCY)

    def keep_waiting() -> bool:
        return plan.games is None or active >= seats

    async def one(n: int) -> BotStats:
        nonlocal active
        name = bot_name(n)
        bot = Bot(
            base_url,
            name,
            accounts.password(name),
            plan,
            rng=random.Random(rng.random()),
            progress=progress,
            keep_waiting=keep_waiting,
            api_transport=api_transport,
        )
        try:
            return await bot.run(logins)
        finally:
            active -= 1

    return list(await asyncio.gather(*(one(n) for n in range(first, first + count))))
