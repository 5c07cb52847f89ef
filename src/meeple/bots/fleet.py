"""A fleet of bots playing at one server: ``meeple bots`` and the tests run one."""

from __future__ import annotations

import asyncio
import logging
import random
import uuid
from collections.abc import Callable

import httpx

from meeple import rules
from meeple.bots.accounts import BotAccounts, bot_name
from meeple.bots.bot import Bot, BotPlan, BotStats, Funder
from meeple.client import Api, HttpError

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
    operator: tuple[str, str] | None = None,
) -> list[BotStats]:
    """Run ``count`` bots (``bot-<first>`` ...) until each has played ``plan.games`` games.

    With a stake and ``operator`` (username, password), the operator deposits into
    a bot's wallet whenever it cannot cover the stake. Bots that can no longer be
    matched (the rest of the fleet is done and too few of them are left to fill a
    table) leave the queue and stop.
    """
    accounts = accounts or BotAccounts()
    seats = min(rules.get(plan.game).seat_counts)
    rng = random.Random(seed)
    active = count
    logins = asyncio.Semaphore(LOGIN_CONCURRENCY)

    funder = None
    if operator is not None and plan.stake > 0:
        funder = _operator_funder(base_url, operator, api_transport)

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
            funder=funder,
        )
        try:
            return await bot.run(logins)
        finally:
            active -= 1

    return list(await asyncio.gather(*(one(n) for n in range(first, first + count))))


def _operator_funder(
    base_url: str, operator: tuple[str, str], transport: httpx.AsyncBaseTransport | None
) -> Funder:
    """Deposits by the operator, logged in once (and again when its token expires)."""
    lock = asyncio.Lock()
    token: list[str] = []

    async def fund(username: str, amount: int) -> None:
        async with Api(base_url, transport=transport) as api:
            async with lock:
                if not token:
                    token.append((await api.login(*operator)).access_token)
            key = f"bots-topup-{username}-{uuid.uuid4()}"
            try:
                await api.deposit(token[0], username, amount, idempotency_key=key, memo="bots")
            except HttpError as exc:
                if exc.status != 401:
                    raise
                token[0] = (await api.login(*operator)).access_token
                await api.deposit(token[0], username, amount, idempotency_key=key, memo="bots")

    return fund
