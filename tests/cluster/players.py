"""Players for the cluster tests: real :class:`meeple.client.Client` connections through
nginx that play chess tables, retry what failed with the *same* command id, and
record every ack and every event frame exactly as it came off the wire.

A :class:`Table` plays random legal moves for both seats of one game until told to
finish, then the side to move resigns. The tests then compare what the players
were told (acks, frames) with what the store holds (:mod:`tests.cluster.checks`).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import random
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import httpx
import msgspec

from meeple.client import Api, Client, ClientClosed, CommandError
from meeple.protocol import messages as m
from tests.cluster.harness import OPERATOR, PASSWORD, Cluster

# Besides the SDK's retriable refusals, a fault may fail a whole engine batch
# (internal_error): retry that too, with the same id.
FAULT_CODES = frozenset({"internal_error"})
RETRY_FOR_S = 60.0
RETRY_PAUSE_S = 0.1

_names = itertools.count(1)


@dataclass(frozen=True, slots=True)
class Acked:
    """A command the platform acknowledged."""

    game_id: str
    player_id: int
    seat: int
    command_id: str
    kind: str  # move | resign
    move: str | None
    seq: int  # the last event it caused
    at: float  # time.monotonic() when the ack arrived


@dataclass
class Account:
    """A registered player."""

    username: str
    player_id: int
    token: str


class RecordingClient(Client):
    """A client that also records, per game, every event seq and state frame it
    received on any of its connections, before the client's own de-duplication."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.wire: dict[str, list[tuple[str, int]]] = {}
        # The same frames told in full, for a failure message: which connection
        # (reconnects so far), seq, kind, seat and move.
        self.seen: dict[str, list[str]] = {}
        self.notices: list[str] = []

    def _handle(self, raw: str | bytes) -> None:
        with contextlib.suppress(msgspec.DecodeError):
            frame = m.decode_server(raw)
            if isinstance(frame, m.Event | m.State):
                kind = "event" if isinstance(frame, m.Event) else "state"
                self.wire.setdefault(frame.game_id, []).append((kind, frame.seq))
                self.seen.setdefault(frame.game_id, []).append(_told(self.reconnects, frame))
            elif isinstance(frame, m.Notice):
                self.notices.append(frame.code)
            elif isinstance(frame, m.Error) and frame.id is None:
                self.notices.append(frame.code)
        super()._handle(raw)


def _told(connection: int, frame: m.Event | m.State) -> str:
    if isinstance(frame, m.State):
        position = next((v for k, v in frame.view.items() if k in ("position", "fen4", "fen")), "")
        return f"c{connection} state {frame.seq} {position}"
    move = frame.data.get("move", "")
    return f"c{connection} {frame.seq} {frame.kind} seat={frame.seat} {move}".rstrip()


def view_report(client: RecordingClient, game_id: str) -> str:
    """What a client knows of a game: its view's seq and position, the frames it saw."""
    view = client.views.get(game_id)
    position = ""
    if view is not None and view.rules is not None and view.state is not None:
        position = view.rules.position_to_text(view.state)
    where = f"view seq={view.seq} stale={view.stale} {position}" if view else "no view"
    frames = "\n  ".join(client.seen.get(game_id, []))
    return f"{where}; reconnects={client.reconnects}; frames:\n  {frames}"


async def poll(condition: Callable[[], bool], what: str, within: float = 10) -> None:
    """Wait until ``condition()`` holds (state kept by clients or processes)."""
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {within}s waiting for {what}")
        await asyncio.sleep(0.05)


async def register(cluster: Cluster, count: int, funds: int = 0) -> list[Account]:
    """Register ``count`` players through nginx (and deposit ``funds`` for each)."""
    accounts = []
    async with Api(cluster.url) as api:
        operator = (await api.login(OPERATOR, PASSWORD)).access_token
        for _ in range(count):
            name = f"p{next(_names)}{uuid.uuid4().hex[:6]}"
            tokens = await api.register_or_login(name, PASSWORD)
            async with httpx.AsyncClient(base_url=cluster.url) as http:
                me = await http.get(
                    "/api/v1/me", headers={"Authorization": f"Bearer {tokens.access_token}"}
                )
                me.raise_for_status()
                if funds:
                    paid = await http.post(
                        f"/api/v1/operator/players/{name}/deposit",
                        json={"amount": funds, "memo": "cluster"},
                        headers={
                            "Authorization": f"Bearer {operator}",
                            "Idempotency-Key": uuid.uuid4().hex,
                        },
                    )
                    assert paid.status_code == 201, paid.text
            accounts.append(Account(name, int(me.json()["id"]), tokens.access_token))
    return accounts


async def connect(cluster: Cluster, account: Account) -> RecordingClient:
    """A client through nginx's /ws that logs in again if its token is refused."""

    async def fresh_token() -> str:
        async with Api(cluster.url) as api:
            return (await api.login(account.username, PASSWORD)).access_token

    client = await RecordingClient.connect(
        cluster.ws_url,
        account.token,
        token_provider=fresh_token,
        command_timeout_s=10.0,
        reconnect_for_s=90.0,
    )
    assert isinstance(client, RecordingClient)
    return client


async def retrying(call: Callable[[str], Awaitable[m.Ack]], retries: list[str]) -> m.Ack:
    """Run ``call(command_id)`` until it is answered, with the same id every time."""
    command_id = uuid.uuid4().hex[:16]
    deadline = time.monotonic() + RETRY_FOR_S
    while True:
        try:
            return await call(command_id)
        except CommandError as exc:
            if not (exc.retriable or exc.code in FAULT_CODES) or time.monotonic() > deadline:
                raise
            retries.append(exc.code)
            await asyncio.sleep(RETRY_PAUSE_S)


@dataclass
class Table:
    """One chess game between two recording clients."""

    game_id: str
    seats: dict[int, RecordingClient]
    players: dict[int, int]  # seat -> player id
    rng: random.Random
    acks: list[Acked] = field(default_factory=list)
    retries: list[str] = field(default_factory=list)
    finish: bool = False
    moves: int = 0
    moved: asyncio.Event = field(default_factory=asyncio.Event)

    async def play(self) -> None:
        """Play both seats until ``finish`` is set; then the side to move resigns."""
        for client in self.seats.values():
            # Right after a fault the game's shard may be between engines: retry.
            await retrying(
                lambda cid, c=client: c.subscribe(self.game_id, command_id=cid), self.retries
            )
        await asyncio.gather(*(self._seat(seat) for seat in self.seats))

    async def _seat(self, seat: int) -> None:
        client = self.seats[seat]
        view = client.views[self.game_id]
        while not view.finished:
            await client.wait_until(lambda: view.finished or view.my_turn, 90)
            if view.finished:
                break
            if self.finish:
                await self._send(seat, "resign", None)
                break
            move = self.rng.choice(view.legal_moves())
            await self._send(seat, "move", move)
        await client.wait_until(lambda: view.finished, 30)

    async def _send(self, seat: int, kind: str, move: str | None) -> None:
        client = self.seats[seat]
        view = client.views[self.game_id]

        async def call(command_id: str) -> m.Ack:
            if move is None:
                return await client.resign(self.game_id, command_id=command_id)
            return await client.move(self.game_id, move, command_id=command_id)

        try:
            ack = await retrying(call, self.retries)
        except CommandError as exc:
            if exc.code == "game_over":
                return
            # Refused for good: tell what this player knew (its view may have diverged
            # from the server, or the server answered from a stale copy).
            raise AssertionError(
                f"{kind} {move} of seat {seat} in {self.game_id} refused: {exc.code} "
                f"{exc}; {view_report(client, self.game_id)}"
            ) from exc
        self.acks.append(
            Acked(
                self.game_id,
                self.players[seat],
                seat,
                ack.id,
                kind,
                move,
                int(ack.seq or 0),
                time.monotonic(),
            )
        )
        # The next decision must see the position after this move.
        await client.wait_until(lambda: view.seq >= (ack.seq or 0) or view.finished, 60)
        if kind == "move":
            self.moves += 1
        self.moved.set()
        self.moved = asyncio.Event()

    @property
    def over(self) -> bool:
        """True once every seat's view has the game finished."""
        views = [c.views.get(self.game_id) for c in self.seats.values()]
        return all(v is not None and v.finished for v in views)

    async def until_moves(self, count: int, within: float = 60) -> None:
        """Wait until the table has ``count`` acknowledged moves in all (or is over)."""
        async with asyncio.timeout(within):
            while self.moves < count and not self.over:
                await self.moved.wait()


async def seat_tables(
    cluster: Cluster, count: int, *, stake: int = 100, time_control: str = "3+2", seed: int = 1
) -> tuple[list[Table], list[RecordingClient]]:
    """``count`` chess tables of fresh funded players, matched through the queue."""
    accounts = await register(cluster, 2 * count, funds=10 * stake)
    clients = [await connect(cluster, a) for a in accounts]
    by_player = {a.player_id: c for a, c in zip(accounts, clients, strict=True)}
    matched: dict[str, dict[int, int]] = {}
    done = asyncio.Event()

    def watch(player_id: int) -> Callable[[m.ServerMessage], None]:
        def on_frame(frame: m.ServerMessage) -> None:
            if isinstance(frame, m.Matched):
                matched.setdefault(frame.game_id, {})[frame.seat] = player_id
                if sum(len(s) for s in matched.values()) == len(clients):
                    done.set()

        return on_frame

    for account, client in zip(accounts, clients, strict=True):
        client.on_frame(watch(account.player_id))
    for client in clients:
        await retrying(
            lambda cid, c=client: c.join_queue("chess", time_control, stake, command_id=cid), []
        )
    async with asyncio.timeout(30):
        await done.wait()
    rng = random.Random(seed)
    tables = [
        Table(
            game_id,
            {seat: by_player[pid] for seat, pid in seats.items()},
            dict(seats),
            random.Random(rng.random()),
        )
        for game_id, seats in sorted(matched.items())
    ]
    assert all(len(t.seats) == 2 for t in tables), matched
    return tables, clients


async def close_all(clients: list[RecordingClient]) -> None:
    for client in clients:
        with contextlib.suppress(ClientClosed):
            await client.close()
