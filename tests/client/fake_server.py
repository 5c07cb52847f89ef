"""A small gateway stand-in that speaks protocol v1 over a real WebSocket.

It holds chess games in memory (the real rules decide moves), keeps one event
log per game, answers each command id once (a retry gets the first answer),
resumes subscribers from ``after_seq`` and can be told to misbehave: drop every
connection, swallow answers, rate-limit, send an event the client cannot apply.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
import websockets
from websockets.asyncio.server import Server, ServerConnection

from meeple import rules
from meeple.protocol import messages as m
from meeple.protocol.errors import ProtocolError
from meeple.rules import RulesError

TOKENS = {
    "alice-token": (1, "alice"),
    "alice-token-2": (1, "alice"),
    "bob-token": (2, "bob"),
    "carol-token": (3, "carol"),
}


def fake_api() -> httpx.MockTransport:
    """The api's auth endpoints in memory: any username registers once, logs in with its
    password, and gets the access token ``token-<username>``."""
    passwords: dict[str, str] = {}

    def handle(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        name, password = body["username"], body["password"]
        if request.url.path.endswith("/auth/register"):
            if name in passwords:
                return httpx.Response(409, json={"code": "username_taken", "message": "taken"})
            passwords[name] = password
            return httpx.Response(201, json={"id": len(passwords), "username": name})
        if passwords.get(name) != password:
            return httpx.Response(401, json={"code": "bad_credentials", "message": "no"})
        tokens = {"access_token": f"token-{name}", "refresh_token": "r", "expires_in": 900}
        return httpx.Response(200, json=tokens)

    return httpx.MockTransport(handle)


def now_ms() -> int:
    return int(time.time() * 1000)


@dataclass
class FakeGame:
    game_id: str
    players: list[int]
    state: object
    log: list[bytes] = field(default_factory=list)
    subscribers: set[ServerConnection] = field(default_factory=set)


class FakeGateway:
    """Run with ``async with FakeGateway() as server``; ``server.url`` is its /ws URL."""

    def __init__(self) -> None:
        self.chess = rules.get("chess")
        self.games: dict[str, FakeGame] = {}
        self.answers: dict[tuple[int, str], bytes] = {}
        self.applied: list[str] = []  # command ids that changed something
        self.received: list[m.ClientMessage] = []
        self.connections: dict[ServerConnection, int] = {}
        self.swallow: set[str] = set()  # command types whose answer is never sent
        self.rate_limit_next = 0  # answer this many commands with rate_limited first
        self.unavailable_subscribes = 0  # answer this many subscribes with games_unavailable
        self.queue: list[tuple[int, ServerConnection]] = []
        self.connects = 0
        self.refused: set[str] = set()  # tokens that stopped working (expired)
        self._server: Server | None = None
        self._ids = itertools.count(1)

    async def __aenter__(self) -> FakeGateway:
        self._server = await websockets.serve(self._handler, "127.0.0.1", 0, compression=None)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    @property
    def url(self) -> str:
        assert self._server is not None
        port = next(iter(self._server.sockets)).getsockname()[1]
        return f"ws://127.0.0.1:{port}/ws"

    # -- test controls --------------------------------------------------------------

    def new_game(self, players: list[int]) -> str:
        game_id = f"g{next(self._ids)}"
        game = FakeGame(game_id, players, self.chess.new(2))
        self.games[game_id] = game
        self._append(
            game, "start", None, {"game": "chess", "seats": [{"player_id": p} for p in players]}
        )
        return game_id

    async def drop_all(self) -> None:
        """Close every connection as a network failure would (the clients reconnect)."""
        for ws in list(self.connections):
            await ws.close(1011, "dropped by the test")

    async def inject(self, game_id: str, kind: str, seat: int | None, data: dict[str, Any]) -> None:
        """Append an event of any kind to a game's log (and send it)."""
        await self._broadcast(
            self.games[game_id], self._append(self.games[game_id], kind, seat, data)
        )

    def apply_move(self, game_id: str, seat: int, text: str) -> bytes:
        """Play a move server-side (as another player would), without sending it."""
        game = self.games[game_id]
        move = self.chess.parse_move(game.state, seat, text)
        game.state = self.chess.play(game.state, seat, move).state
        return self._append(game, "move", seat, {"move": text})

    # -- the protocol ----------------------------------------------------------------

    def _append(self, game: FakeGame, kind: str, seat: int | None, data: dict[str, Any]) -> bytes:
        to_act = list(self.chess.to_act(game.state))
        event = m.Event(
            game_id=game.game_id,
            seq=len(game.log) + 1,
            kind=kind,
            ts_ms=now_ms(),
            seat=seat,
            data=data,
            clocks=[60_000, 60_000],
            to_act=to_act,
        )
        body = m.encode(event)
        game.log.append(body)
        return body

    async def _broadcast(self, game: FakeGame, body: bytes) -> None:
        for ws in list(game.subscribers):
            try:
                await ws.send(body.decode())
            except websockets.ConnectionClosed:
                game.subscribers.discard(ws)

    async def _handler(self, ws: ServerConnection) -> None:
        assert ws.request is not None
        token = ws.request.path.partition("token=")[2]
        if token.startswith("token-"):  # minted by fake_api for any username
            TOKENS.setdefault(token, (100 + len(TOKENS), token.removeprefix("token-")))
        if token in self.refused:
            await ws.send(m.encode(m.Error(code="token_expired", message="expired")).decode())
            await ws.close(4401, "token expired")
            return
        if token not in TOKENS:
            await ws.send(m.encode(m.Error(code="unauthorized", message="bad token")).decode())
            await ws.close(4401, "unauthorized")
            return
        player_id, username = TOKENS[token]
        self.connects += 1
        self.connections[ws] = player_id
        mine = [g.game_id for g in self.games.values() if player_id in g.players]
        welcome = m.Welcome(
            protocol=1, player_id=player_id, username=username, server_time_ms=now_ms(), games=mine
        )
        await ws.send(m.encode(welcome).decode())
        try:
            async for raw in ws:
                await self._on_frame(ws, player_id, raw)
        except websockets.ConnectionClosed:
            pass
        finally:
            self.connections.pop(ws, None)
            for game in self.games.values():
                game.subscribers.discard(ws)

    async def _on_frame(self, ws: ServerConnection, player_id: int, raw: str | bytes) -> None:
        try:
            message = m.decode_client(raw)
        except ProtocolError as exc:
            await ws.send(m.encode(m.Error(code=exc.code, message=exc.message)).decode())
            return
        self.received.append(message)
        if self.rate_limit_next > 0:
            self.rate_limit_next -= 1
            error = m.Error(
                code="rate_limited", message="slow down", id=message.id, retry_after_ms=20
            )
            await ws.send(m.encode(error).decode())
            return
        if isinstance(message, m.Subscribe) and self.unavailable_subscribes > 0:
            self.unavailable_subscribes -= 1
            error = m.Error(code="games_unavailable", message="failing over", id=message.id)
            await ws.send(m.encode(error).decode())
            return
        key = (player_id, message.id)
        if key in self.answers:
            answer = self.answers[key]
        else:
            answer = await self._decide(ws, player_id, message)
            self.answers[key] = answer
        if type(message).__name__ in self.swallow:
            return
        await ws.send(answer.decode())

    async def _decide(self, ws: ServerConnection, player_id: int, msg: m.ClientMessage) -> bytes:
        if isinstance(msg, m.Ping):
            return m.encode(m.Pong(id=msg.id, server_time_ms=now_ms()))
        if isinstance(msg, m.QueueJoin):
            self.queue.append((player_id, ws))
            if len(self.queue) >= 2:
                pair, self.queue = self.queue[:2], self.queue[2:]
                game_id = self.new_game([p for p, _ in pair])
                for seat, (_, conn) in enumerate(pair):
                    matched = m.Matched(
                        game_id=game_id, seat=seat, game="chess", time_control="1+0", stake=0
                    )
                    asyncio.get_running_loop().call_soon(
                        lambda c=conn, f=matched: asyncio.ensure_future(
                            c.send(m.encode(f).decode())
                        )
                    )
            return m.encode(m.Ack(id=msg.id))
        if isinstance(msg, m.Subscribe):
            return await self._subscribe(ws, player_id, msg)
        if isinstance(msg, m.Move):
            game = self.games.get(msg.game_id)
            if game is None:
                return m.encode(m.Error(code="game_not_found", message="no game", id=msg.id))
            if player_id not in game.players:
                return m.encode(m.Error(code="not_a_player", message="watch only", id=msg.id))
            seat = game.players.index(player_id)
            try:
                body = self.apply_move(msg.game_id, seat, msg.move)
            except RulesError as exc:
                return m.encode(m.Error(code=exc.code, message=str(exc), id=msg.id))
            self.applied.append(msg.id)
            await self._broadcast(game, body)
            seq = len(game.log)
            result = self.chess.result(game.state)
            if result is not None:
                await self.inject(game.game_id, "game_over", None, {"result": result.to_json()})
            return m.encode(m.Ack(id=msg.id, seq=seq))
        return m.encode(m.Ack(id=msg.id))

    async def _subscribe(self, ws: ServerConnection, player_id: int, msg: m.Subscribe) -> bytes:
        game = self.games.get(msg.game_id)
        if game is None:
            return m.encode(m.Error(code="game_not_found", message="no game", id=msg.id))
        if msg.after_seq > 0:
            for body in game.log[msg.after_seq :]:
                await ws.send(body.decode())
        else:
            you = game.players.index(player_id) if player_id in game.players else None
            view = self.chess.view(game.state, you)
            state = m.State(
                game_id=game.game_id,
                seq=len(game.log),
                game="chess",
                status="active",
                seats=[{"player_id": p} for p in game.players],
                view=dict(view),
                clocks=[60_000, 60_000],
                to_act=list(self.chess.to_act(game.state)),
                ts_ms=now_ms(),
                time_control="1+0",
                stake=0,
                you=you,
            )
            await ws.send(m.encode(state).decode())
        game.subscribers.add(ws)
        return m.encode(m.Ack(id=msg.id, seq=len(game.log)))
