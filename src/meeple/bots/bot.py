"""A bot: one account that queues, plays random legal moves, and plays again.

It keeps a :class:`~meeple.client.GameView` of its game (rules state rebuilt from
the server's frames), so it never asks the server which moves are legal. After
each move it waits until the server's event for it has arrived before thinking
again, so it never plays twice on the same position.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import httpx

from meeple.client import Api, Client, CommandError, GameView, Tokens, ws_url
from meeple.protocol import messages as m
from meeple.rules import Claim, RulesError

log = logging.getLogger(__name__)

# Commands whose refusal means our view is behind the server's: resync and go on.
_OUT_OF_STEP = frozenset({"not_your_turn", "illegal_move", "bad_notation", "action_unavailable"})
# A top-up covers this many stakes, so bots are not funded before every game.
TOP_UP_STAKES = 20
# How long to wait for an opponent (or a match) before checking on things again.
POLL_S = 1.0


Funder = Callable[[str, int], Awaitable[None]]
"""``funder(username, amount)`` credits a bot's wallet (an operator's deposit)."""


@dataclass
class BotStats:
    """What a bot did."""

    name: str
    games: int = 0
    moves: int = 0
    claims: int = 0
    errors: int = 0
    placings: list[int] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class BotPlan:
    """What every bot of a fleet plays."""

    game: str = "fourchess"
    time_control: str = "3+2"
    stake: int = 0
    games: int | None = None  # None: until stopped
    think_ms: int = 0


class Bot:
    """One bot account playing game after game at ``base_url``."""

    def __init__(
        self,
        base_url: str,
        name: str,
        password: str,
        plan: BotPlan,
        *,
        rng: random.Random | None = None,
        progress: Callable[[str], None] | None = None,
        keep_waiting: Callable[[], bool] | None = None,
        api_transport: httpx.AsyncBaseTransport | None = None,
        funder: Funder | None = None,
    ) -> None:
        self.base_url = base_url
        self.name = name
        self._password = password
        self.plan = plan
        self.rng = rng or random.Random()
        self.stats = BotStats(name)
        self._progress = progress or (lambda _line: None)
        self._keep_waiting = keep_waiting or (lambda: True)
        self._matched: m.Matched | None = None
        self._dropped: m.QueueStatus | None = None
        self._api_transport = api_transport  # tests answer HTTP in memory
        self._funder = funder
        self._api: Api
        self._tokens: Tokens
        self.client: Client | None = None

    async def run(self, login_gate: asyncio.Semaphore | None = None) -> BotStats:
        """Log in (holding ``login_gate`` if given), finish any game in progress, then
        play ``plan.games`` games."""
        async with Api(self.base_url, transport=self._api_transport) as api:
            async with login_gate or contextlib.nullcontext():
                tokens = await api.register_or_login(self.name, self._password)

            async def fresh_token() -> str:
                return (await api.login(self.name, self._password)).access_token

            client = await Client.connect(
                ws_url(self.base_url),
                tokens.access_token,
                token_provider=fresh_token,
                command_timeout_s=30.0,
            )
            self.client = client
            client.on_frame(self._on_frame)
            self._api, self._tokens = api, tokens
            try:
                await self._play_all(client)
            finally:
                await client.close()
        return self.stats

    def _on_frame(self, frame: m.ServerMessage) -> None:
        if isinstance(frame, m.Matched):
            self._matched = frame
        elif isinstance(frame, m.QueueStatus) and frame.state == "dropped":
            self._dropped = frame

    def _more(self) -> bool:
        return self.plan.games is None or self.stats.games < self.plan.games

    async def _play_all(self, client: Client) -> None:
        assert client.welcome is not None
        for game_id in client.welcome.games:  # left over from an earlier run
            await self.play(client, game_id)
        while self._more():
            found = await self._find_game(client)
            if found is None:
                return
            await self.play(client, found)

    async def _find_game(self, client: Client) -> str | None:
        """Queue and wait for a match; None if the fleet gave up waiting."""
        self._matched = self._dropped = None
        await self._fund()
        try:
            await client.join_queue(self.plan.game, self.plan.time_control, self.plan.stake)
        except CommandError as exc:
            if exc.code != "already_queued":
                raise
        while True:
            try:
                await client.wait_until(lambda: self._matched is not None, POLL_S)
            except TimeoutError:
                dropped = self._drop_notice()
                if dropped is not None:
                    reason = dropped.reason or "dropped from the queue"
                    raise CommandError("dropped", reason) from None
                resumed = self._game_in_progress(client)
                if resumed is not None:  # matched while we were reconnecting
                    return resumed
                if not self._keep_waiting():
                    await client.leave_queue()
                    return None
                continue
            matched = self._match()
            assert matched is not None
            self._progress(f"{self.name}: matched in {matched.game_id}")
            return matched.game_id

    async def _fund(self) -> None:
        """Top the wallet up through the funder when it cannot cover the stake."""
        if self.plan.stake <= 0 or self._funder is None:
            return
        balance = int((await self._api.wallet(self._tokens.access_token)).get("balance", 0))
        if balance < self.plan.stake:
            await self._funder(self.name, self.plan.stake * TOP_UP_STAKES)
            self._progress(f"{self.name}: wallet topped up")

    @staticmethod
    def _game_in_progress(client: Client) -> str | None:
        """A game the server's latest welcome lists that we have not finished."""
        assert client.welcome is not None
        for game_id in client.welcome.games:
            view = client.views.get(game_id)
            if view is None or not view.finished:
                return game_id
        return None

    def _match(self) -> m.Matched | None:
        return self._matched

    def _drop_notice(self) -> m.QueueStatus | None:
        return self._dropped

    async def play(self, client: Client, game_id: str) -> None:
        """Play one game to its end with random legal moves."""
        await client.subscribe(game_id)
        view = client.views[game_id]
        while True:
            try:
                await client.wait_until(lambda: view.finished or view.my_turn, POLL_S * 30)
            except TimeoutError:
                if view.stale:
                    await client.resync(game_id)
                continue
            if view.finished:
                break
            if self.plan.think_ms:
                await asyncio.sleep(self.plan.think_ms / 1000)  # thinking, as a player would
            if view.my_turn:
                await self._act(client, view)
        self.stats.games += 1
        placing = self._placing(view)
        if placing is not None:
            self.stats.placings.append(placing)
        self._progress(
            f"{self.name}: game {game_id} over ({(view.result or {}).get('reason', '?')}), "
            f"placing {placing}, {self.stats.games} played"
        )
        await client.unsubscribe(game_id)

    async def _act(self, client: Client, view: GameView) -> None:
        game_id = view.game_id
        try:
            if self._can_claim(view):
                ack = await client.claim(game_id, "win")
                self.stats.claims += 1
            else:
                moves = view.legal_moves()
                if not moves:
                    return
                ack = await client.move(game_id, self.rng.choice(moves))
                self.stats.moves += 1
        except CommandError as exc:
            self.stats.errors += 1
            if exc.code == "game_over":
                await client.wait_until(lambda: view.finished, POLL_S * 30)
                return
            if exc.code not in _OUT_OF_STEP:
                raise
            log.info("%s out of step in %s (%s): resyncing", self.name, game_id, exc.code)
            await client.resync(game_id)
            return
        # Wait for our own event, so the next decision sees the position after it.
        seq = ack.seq or 0
        await client.wait_until(lambda: view.seq >= seq or view.finished, POLL_S * 30)

    @staticmethod
    def _can_claim(view: GameView) -> bool:
        if view.rules is None or view.state is None or view.you is None:
            return False
        try:
            view.rules.claim(view.state, view.you, Claim.WIN)
        except RulesError:
            return False
        return True

    def _placing(self, view: GameView) -> int | None:
        placings = (view.result or {}).get("placings")
        if isinstance(placings, list) and view.you is not None and view.you < len(placings):
            value = placings[view.you]
            return value if isinstance(value, int) else None
        return None
