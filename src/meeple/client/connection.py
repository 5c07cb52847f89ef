"""The async WebSocket client of protocol v1.

::

    async with await Client.connect("ws://127.0.0.1:8000/ws", token) as client:
        ack = await client.join_queue("fourchess", "3+2")
        async for frame in client:          # every server frame that is not an answer
            ...

Every command gets an id (generated, or passed to test retries) and waits for its
``ack`` (returned) or ``error`` (raised as :class:`CommandError`). If the
connection drops, the client reconnects with backoff, sends the commands still
waiting again with the *same* ids (the server applies an id at most once), and
subscribes again to its games from the last ``seq`` it saw, so nothing is missed
and nothing is applied twice. A :class:`GameView` per game keeps a local rules
state for bots and UIs.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

import msgspec
import websockets
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

from meeple.client.errors import ClientClosed, CommandError, ConnectionFailed
from meeple.client.view import GameView
from meeple.protocol import messages as m

log = logging.getLogger(__name__)

FrameCallback = Callable[[m.ServerMessage], None]
TokenProvider = Callable[[], Awaitable[str]]

# Close codes after which reconnecting with the same token cannot help.
AUTH_CLOSE = 4401
# Backoff between reconnect attempts, seconds (the last one repeats).
BACKOFF_S = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0)
_WELCOME_TIMEOUT_S = 10.0


class _Stop:
    """Sentinel that ends frame iteration."""


class Client:
    """One player's connection to a gateway. Create it with :meth:`connect`."""

    def __init__(
        self,
        url: str,
        token: str,
        *,
        token_provider: TokenProvider | None = None,
        reconnect: bool = True,
        reconnect_for_s: float = 60.0,
        command_timeout_s: float = 10.0,
        max_frames: int = 10_000,
        open_timeout_s: float = 10.0,
        keepalive_s: float | None = 30.0,
        connect_kwargs: dict[str, Any] | None = None,
    ) -> None:
        self.url = url
        self._token = token
        self._token_provider = token_provider
        self.reconnect = reconnect
        self.reconnect_for_s = reconnect_for_s
        self.command_timeout_s = command_timeout_s
        self.open_timeout_s = open_timeout_s
        self.keepalive_s = keepalive_s
        self._last_sent = time.monotonic()
        self._connect_kwargs = connect_kwargs or {}
        self.welcome: m.Welcome | None = None
        self.views: dict[str, GameView] = {}
        self.subscriptions: set[str] = set()
        self.reconnects = 0
        self._last_seq: dict[str, int] = {}
        self._ws: ClientConnection | None = None
        self._reader: asyncio.Task[None] | None = None
        self._pending: dict[str, tuple[asyncio.Future[m.Ack | m.Pong], bytes]] = {}
        self._frames: asyncio.Queue[m.ServerMessage | _Stop] = asyncio.Queue()
        self._max_frames = max_frames
        self._callbacks: list[FrameCallback] = []
        self._tick = asyncio.Event()  # set (and replaced) after each frame
        self._tasks: set[asyncio.Task[None]] = set()
        self._ids = itertools.count(1)
        self._id_prefix = secrets.token_hex(4)
        self._closing = False
        self._closed = asyncio.Event()
        self.close_reason: str | None = None

    # -- life ----------------------------------------------------------------------

    @classmethod
    async def connect(cls, url: str, token: str, **kwargs: Any) -> Client:
        """Open a connection and wait for the server's ``welcome``.

        Raises :class:`ConnectionFailed` (with the server's code, e.g.
        ``unauthorized``) if that fails. Keyword arguments go to the constructor.
        """
        client = cls(url, token, **kwargs)
        await client._open()
        client._reader = asyncio.create_task(client._run(), name=f"meeple-client-{url}")
        if client.keepalive_s:
            client._background(client._keepalive(client.keepalive_s))
        return client

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    @property
    def player_id(self) -> int:
        """The player this connection is authenticated as."""
        assert self.welcome is not None
        return self.welcome.player_id

    @property
    def closed(self) -> bool:
        """True once the client is closed (by :meth:`close` or for good by the server)."""
        return self._closed.is_set()

    async def close(self) -> None:
        """Close the connection; waiting commands raise :class:`ClientClosed`."""
        self._closing = True
        if self._ws is not None:
            await self._ws.close()
        if self._reader is not None and self._reader is not asyncio.current_task():
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        for task in list(self._tasks):
            task.cancel()
        self._finish("closed by the client")

    async def wait_closed(self) -> None:
        """Wait until the client is closed for good."""
        await self._closed.wait()

    def _finish(self, reason: str) -> None:
        if self._closed.is_set():
            return
        self.close_reason = reason
        self._closed.set()
        for future, _ in self._pending.values():
            if not future.done():
                future.set_exception(ClientClosed(reason))
        self._pending.clear()
        self._frames.put_nowait(_Stop())
        self._notify()

    async def _open(self) -> None:
        """Connect and read the welcome frame."""
        parts = urlsplit(self.url)
        query = (parts.query + "&" if parts.query else "") + urlencode({"token": self._token})
        uri = urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))
        try:
            ws = await websockets.connect(
                uri,
                compression=None,
                open_timeout=self.open_timeout_s,
                max_size=2**20,
                **self._connect_kwargs,
            )
        except (OSError, InvalidHandshake, InvalidURI, TimeoutError) as exc:
            raise ConnectionFailed(f"cannot connect to {self.url}: {exc}") from exc
        try:
            async with asyncio.timeout(_WELCOME_TIMEOUT_S):
                first = m.decode_server(await ws.recv())
        except (ConnectionClosed, TimeoutError, msgspec.DecodeError) as exc:
            await ws.close()
            raise ConnectionFailed(f"no welcome from {self.url}: {exc!r}") from exc
        if isinstance(first, m.Error):
            await ws.close()
            raise ConnectionFailed(f"{first.code}: {first.message}", code=first.code)
        if not isinstance(first, m.Welcome):
            await ws.close()
            raise ConnectionFailed(f"expected welcome, got {type(first).__name__}")
        self._ws = ws
        self.welcome = first

    # -- the reader ----------------------------------------------------------------

    async def _run(self) -> None:
        try:
            while True:
                ws = self._ws
                assert ws is not None
                try:
                    async for raw in ws:
                        self._handle(raw)
                except ConnectionClosed:
                    pass
                if self._closing:
                    return
                code = ws.close_code
                log.info("connection to %s closed (code %s)", self.url, code)
                if not self.reconnect or not await self._reconnect(code):
                    self._finish(f"connection closed (code {code})")
                    return
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("client reader failed")
            self._finish("reader failed")
            raise

    async def _reconnect(self, close_code: int | None) -> bool:
        """Open a new connection with backoff; False if it is hopeless or took too long."""
        deadline = time.monotonic() + self.reconnect_for_s
        need_token = close_code == AUTH_CLOSE
        for attempt in itertools.count():
            if self._closing or time.monotonic() > deadline:
                return False
            await asyncio.sleep(BACKOFF_S[min(attempt, len(BACKOFF_S) - 1)])
            if need_token:
                if self._token_provider is None:
                    return False
                try:
                    self._token = await self._token_provider()
                except Exception as exc:
                    log.warning("token refresh failed: %s", exc)
                    continue
            try:
                await self._open()
            except ConnectionFailed as exc:
                log.info("reconnect to %s failed: %s", self.url, exc)
                need_token = exc.code in ("unauthorized", "token_expired")
                continue
            self.reconnects += 1
            self._after_reconnect()
            self._notify()
            return True
        raise AssertionError("unreachable")

    def _after_reconnect(self) -> None:
        """Resume every game from its last seq, then resend what still waits."""
        for game_id in sorted(self.subscriptions):
            after = self._last_seq.get(game_id, 0)
            self._background(self._resubscribe(game_id, after))
        for _future, frame in self._pending.values():
            self._send_raw(frame)

    async def _resubscribe(self, game_id: str, after_seq: int) -> None:
        view = self.views.get(game_id)
        if view is not None and view.stale:
            after_seq = 0
        # A reconnect often lands mid-failover (the engine that owned the game died
        # too, or its shard is changing hands): keep trying, with backoff, while the
        # game is still wanted; a refusal for good (the game is gone, not ours) ends it.
        for attempt in itertools.count():
            if self._closed.is_set() or game_id not in self.subscriptions:
                return
            try:
                await self._command(
                    m.Subscribe(id=self._new_id(), game_id=game_id, after_seq=after_seq)
                )
                return
            except CommandError as exc:
                if not exc.retriable:
                    log.warning("resubscribe to %s failed: %s", game_id, exc)
                    self.subscriptions.discard(game_id)
                    return
                log.info("resubscribe to %s: %s; retrying", game_id, exc)
            await asyncio.sleep(BACKOFF_S[min(attempt, len(BACKOFF_S) - 1)])

    async def _keepalive(self, every_s: float) -> None:
        """Ping when nothing was sent for ``every_s``: the gateway closes idle connections."""
        while not self._closed.is_set():
            await asyncio.sleep(max(0.0, self._last_sent + every_s - time.monotonic()))
            if time.monotonic() - self._last_sent >= every_s and not self._closed.is_set():
                try:
                    await self.ping()
                except CommandError as exc:
                    log.info("keepalive ping failed: %s", exc)

    def _background(self, coro: Awaitable[None]) -> None:
        async def wrapper() -> None:
            with contextlib.suppress(ClientClosed):
                await coro

        task = asyncio.create_task(wrapper())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _handle(self, raw: str | bytes) -> None:
        try:
            frame = m.decode_server(raw)
        except msgspec.DecodeError as exc:
            log.warning("undecodable frame from %s: %s", self.url, exc)
            return
        if isinstance(frame, m.Ack | m.Pong):
            self._answer(frame.id, frame)
            return
        if isinstance(frame, m.Error) and frame.id is not None and frame.id in self._pending:
            self._answer(frame.id, frame)
            return
        if isinstance(frame, m.Event):
            if not self._on_event(frame):
                return
        elif isinstance(frame, m.State):
            self._on_state(frame)
        elif isinstance(frame, m.Matched):
            view = self.view(frame.game_id)
            view.you = frame.seat
            view.game = frame.game
        self._deliver(frame)

    def _answer(self, command_id: str, frame: m.Ack | m.Pong | m.Error) -> None:
        entry = self._pending.pop(command_id, None)
        if entry is None or entry[0].done():
            return
        if isinstance(frame, m.Error):
            entry[0].set_exception(
                CommandError(frame.code, frame.message, retry_after_ms=frame.retry_after_ms)
            )
        else:
            entry[0].set_result(frame)
        self._notify()

    def _on_event(self, frame: m.Event) -> bool:
        last = self._last_seq.get(frame.game_id, 0)
        if frame.seq <= last:
            return False  # a duplicate (resume overlap): already delivered
        self._last_seq[frame.game_id] = frame.seq
        view = self.views.get(frame.game_id)
        if view is not None:
            was_stale = view.stale
            view.apply_event(frame)
            if view.stale and not was_stale:
                self._background(self.resync(frame.game_id))
        return True

    def _on_state(self, frame: m.State) -> None:
        self._last_seq[frame.game_id] = max(self._last_seq.get(frame.game_id, 0), frame.seq)
        self.view(frame.game_id).apply_state(frame)

    def _deliver(self, frame: m.ServerMessage) -> None:
        if self._frames.qsize() >= self._max_frames:
            self._frames.get_nowait()  # nobody reads them: keep the newest
        self._frames.put_nowait(frame)
        for callback in list(self._callbacks):
            try:
                callback(frame)
            except Exception:
                log.exception("frame callback failed")
        self._notify()

    def _notify(self) -> None:
        tick, self._tick = self._tick, asyncio.Event()
        tick.set()

    # -- frames --------------------------------------------------------------------

    def on_frame(self, callback: FrameCallback) -> None:
        """Call ``callback(frame)`` for each server frame that is not a command's answer."""
        self._callbacks.append(callback)

    def __aiter__(self) -> AsyncIterator[m.ServerMessage]:
        return self.frames()

    async def frames(self) -> AsyncIterator[m.ServerMessage]:
        """Server frames that are not a command's answer, in order, until closed.

        Events already seen (by seq) are not repeated. If nobody reads them, only
        the newest ``max_frames`` are kept.
        """
        while True:
            frame = await self._frames.get()
            if isinstance(frame, _Stop):
                self._frames.put_nowait(frame)  # other readers stop too
                return
            yield frame

    async def next_frame(self, within: float | None = None) -> m.ServerMessage:
        """The next frame (see :meth:`frames`); ClientClosed when closed, TimeoutError
        after ``within`` seconds."""
        async with asyncio.timeout(within):
            frame = await self._frames.get()
        if isinstance(frame, _Stop):
            self._frames.put_nowait(frame)
            raise ClientClosed(self.close_reason or "closed")
        return frame

    async def wait_until(self, predicate: Callable[[], bool], within: float | None) -> None:
        """Wait until ``predicate()`` holds (checked after each frame); TimeoutError after
        ``within`` seconds, ClientClosed if the client closes first."""
        if predicate():  # the common case: no timer to arm and cancel
            return
        async with asyncio.timeout(within):
            while not predicate():
                if self._closed.is_set():
                    raise ClientClosed(self.close_reason or "closed")
                await self._tick.wait()

    def last_seq(self, game_id: str) -> int:
        """The last event seq seen in a game (0: none)."""
        return self._last_seq.get(game_id, 0)

    def view(self, game_id: str) -> GameView:
        """The local view of a game (created empty on first use)."""
        view = self.views.get(game_id)
        if view is None:
            view = self.views[game_id] = GameView(game_id)
        return view

    # -- commands ------------------------------------------------------------------

    def _new_id(self) -> str:
        return f"{self._id_prefix}-{next(self._ids)}"

    def _send_raw(self, frame: bytes) -> None:
        ws = self._ws
        if ws is None:
            return

        async def send() -> None:
            with contextlib.suppress(ConnectionClosed):
                await ws.send(frame, text=True)  # UTF-8 JSON already: no re-encoding

        self._background(send())

    async def _command(self, message: m.ClientMessage) -> m.Ack | m.Pong:
        """Send a command and wait for its answer (retrying ``rate_limited`` in time)."""
        if self._closed.is_set():
            raise ClientClosed(self.close_reason or "closed")
        deadline = time.monotonic() + self.command_timeout_s
        frame = m.encode(message)
        while True:
            loop = asyncio.get_running_loop()
            future: asyncio.Future[m.Ack | m.Pong] = loop.create_future()
            self._pending[message.id] = (future, frame)
            ws = self._ws
            assert ws is not None
            self._last_sent = time.monotonic()
            with contextlib.suppress(ConnectionClosed):
                await ws.send(frame, text=True)  # if it fails, the reconnect resends it
            try:
                async with asyncio.timeout(deadline - time.monotonic()):
                    return await future
            except TimeoutError:
                self._pending.pop(message.id, None)
                raise CommandError(
                    "timeout", f"no answer to {message.id} in {self.command_timeout_s} s"
                ) from None
            except CommandError as exc:
                wait_s = (exc.retry_after_ms or 100) / 1000
                if exc.code != "rate_limited" or time.monotonic() + wait_s > deadline:
                    raise
                await asyncio.sleep(wait_s)

    async def _ack(self, message: m.ClientMessage) -> m.Ack:
        answer = await self._command(message)
        assert isinstance(answer, m.Ack), answer
        return answer

    async def ping(self, *, command_id: str | None = None) -> m.Pong:
        """Round trip to the server; returns its pong (with the server's time)."""
        answer = await self._command(m.Ping(id=command_id or self._new_id()))
        assert isinstance(answer, m.Pong), answer
        return answer

    async def join_queue(
        self, game: str, time_control: str, stake: int = 0, *, command_id: str | None = None
    ) -> m.Ack:
        """Join matchmaking for (game, time control, stake)."""
        return await self._ack(
            m.QueueJoin(
                id=command_id or self._new_id(), game=game, time_control=time_control, stake=stake
            )
        )

    async def leave_queue(self, *, command_id: str | None = None) -> m.Ack:
        """Leave matchmaking."""
        return await self._ack(m.QueueLeave(id=command_id or self._new_id()))

    async def create_private(
        self, game: str, time_control: str, stake: int = 0, *, command_id: str | None = None
    ) -> m.Ack:
        """Create a private game; the ack's ``data`` carries its invite code."""
        return await self._ack(
            m.PrivateCreate(
                id=command_id or self._new_id(), game=game, time_control=time_control, stake=stake
            )
        )

    async def join_private(self, code: str, *, command_id: str | None = None) -> m.Ack:
        """Take a seat in a private game by its invite code."""
        return await self._ack(m.PrivateJoin(id=command_id or self._new_id(), code=code))

    async def subscribe(
        self, game_id: str, after_seq: int | None = None, *, command_id: str | None = None
    ) -> m.Ack:
        """Follow a game from ``after_seq`` (default: the last seq this client saw)."""
        if after_seq is None:
            after_seq = self._last_seq.get(game_id, 0)
        self.view(game_id)
        self.subscriptions.add(game_id)
        try:
            return await self._ack(
                m.Subscribe(id=command_id or self._new_id(), game_id=game_id, after_seq=after_seq)
            )
        except CommandError:
            self.subscriptions.discard(game_id)
            raise

    async def unsubscribe(self, game_id: str, *, command_id: str | None = None) -> m.Ack:
        """Stop following a game."""
        self.subscriptions.discard(game_id)
        return await self._ack(m.Unsubscribe(id=command_id or self._new_id(), game_id=game_id))

    async def resync(self, game_id: str) -> None:
        """Ask for a fresh ``state`` frame of a game (after the local view went stale)."""
        log.info("resyncing %s", game_id)
        with contextlib.suppress(CommandError):
            await self._ack(m.Unsubscribe(id=self._new_id(), game_id=game_id))
        self._last_seq[game_id] = 0
        await self.subscribe(game_id, 0)

    async def move(self, game_id: str, move: str, *, command_id: str | None = None) -> m.Ack:
        """Play a move (the game's notation)."""
        return await self._ack(m.Move(id=command_id or self._new_id(), game_id=game_id, move=move))

    async def resign(self, game_id: str, *, command_id: str | None = None) -> m.Ack:
        """Resign."""
        return await self._ack(m.Resign(id=command_id or self._new_id(), game_id=game_id))

    async def offer_draw(self, game_id: str, *, command_id: str | None = None) -> m.Ack:
        """Offer a draw."""
        return await self._ack(m.DrawOffer(id=command_id or self._new_id(), game_id=game_id))

    async def accept_draw(self, game_id: str, *, command_id: str | None = None) -> m.Ack:
        """Accept the pending draw offer."""
        return await self._ack(m.DrawAccept(id=command_id or self._new_id(), game_id=game_id))

    async def decline_draw(self, game_id: str, *, command_id: str | None = None) -> m.Ack:
        """Decline the pending draw offer."""
        return await self._ack(m.DrawDecline(id=command_id or self._new_id(), game_id=game_id))

    async def claim(
        self, game_id: str, claim: str = "win", *, command_id: str | None = None
    ) -> m.Ack:
        """Claim a win (fourchess) or a draw (chess) where the rules allow it now."""
        if claim not in ("win", "draw"):
            raise ValueError(f"claim must be 'win' or 'draw', not {claim!r}")
        return await self._ack(
            m.Claim(
                id=command_id or self._new_id(),
                game_id=game_id,
                claim="win" if claim == "win" else "draw",
            )
        )
