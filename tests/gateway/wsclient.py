"""A minimal WebSocket client for the gateway and end-to-end tests (real sockets).

It speaks the raw protocol on purpose: the tests check frames exactly as a
third-party client would see them, including the bad ones it sends.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable
from typing import Any

import orjson
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

Frame = dict[str, Any]


class WsClient:
    """One connection; frames are kept in arrival order in :attr:`frames`."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.frames: list[Frame] = []
        self._cursor = 0
        self._claimed: set[int] = set()
        self._ids = itertools.count(1)
        self._arrived = asyncio.Event()
        self._reader = asyncio.create_task(self._read())
        self.closed = asyncio.Event()

    @classmethod
    async def open(cls, url: str, token: str | None = None, **kwargs: Any) -> WsClient:
        """Connect to ``url`` (``?token=`` added when given)."""
        if token is not None:
            url = f"{url}{'&' if '?' in url else '?'}token={token}"
        ws = await connect(url, max_size=None, compression=None, **kwargs)
        return cls(ws)

    async def _read(self) -> None:
        try:
            async for data in self.ws:
                self.frames.append(orjson.loads(data))
                self._arrived.set()
        except ConnectionClosed:
            pass
        finally:
            self.closed.set()
            self._arrived.set()

    @property
    def close_code(self) -> int | None:
        """The close code the server sent (None while open)."""
        frame = self.ws.protocol.close_rcvd
        return frame.code if frame is not None else None

    def next_id(self) -> str:
        """A fresh command id."""
        return f"c{next(self._ids)}"

    async def send(self, message: Frame | str | bytes) -> str | None:
        """Send a message (a dict gets an ``id`` if it has none); its id."""
        if isinstance(message, dict):
            message = dict(message)
            if message.get("type") != "ping" or "id" not in message:
                message.setdefault("id", self.next_id())
            await self.ws.send(orjson.dumps(message).decode())
            command_id: str | None = message["id"]
            return command_id
        await self.ws.send(message)
        return None

    async def wait_for(
        self, predicate: Callable[[Frame], bool], within: float = 5.0, *, what: str = ""
    ) -> Frame:
        """The first frame after the cursor that matches; the cursor moves past it."""
        deadline = time.monotonic() + within
        while True:
            while self._cursor < len(self.frames):
                frame = self.frames[self._cursor]
                self._cursor += 1
                if predicate(frame):
                    return frame
            if self.closed.is_set():
                raise AssertionError(f"closed ({self.close_code}) before {what or predicate}")
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"no {what or 'matching frame'}; got {self.frames[-5:]}")
            self._arrived.clear()
            try:
                await asyncio.wait_for(self._arrived.wait(), remaining)
            except TimeoutError:
                pass

    async def reply(self, command_id: str, within: float = 5.0) -> Frame:
        """The (next unclaimed) ack or error answering ``command_id``, wherever it is
        among the frames: replies do not move the cursor of :meth:`wait_for`."""
        deadline = time.monotonic() + within
        while True:
            for index, frame in enumerate(self.frames):
                if (
                    index not in self._claimed
                    and frame.get("type") in ("ack", "error")
                    and frame.get("id") == command_id
                ):
                    self._claimed.add(index)
                    return frame
            if self.closed.is_set():
                raise AssertionError(f"closed ({self.close_code}) before reply to {command_id}")
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"no reply to {command_id}; got {self.frames[-5:]}")
            self._arrived.clear()
            try:
                await asyncio.wait_for(self._arrived.wait(), remaining)
            except TimeoutError:
                pass

    async def call(self, message: Frame, within: float = 5.0) -> Frame:
        """Send and wait for the reply."""
        command_id = await self.send(message)
        assert command_id is not None
        return await self.reply(command_id, within)

    async def type(self, kind: str, within: float = 5.0) -> Frame:
        """The next frame of type ``kind``."""
        return await self.wait_for(lambda f: f.get("type") == kind, within, what=kind)

    async def wait_closed(self, within: float = 5.0) -> int | None:
        """Until the server closed the connection; its close code."""
        await asyncio.wait_for(self.closed.wait(), within)
        return self.close_code

    def events(self, game_id: str) -> list[Frame]:
        """Every event frame of a game received so far, in arrival order."""
        return [f for f in self.frames if f.get("type") == "event" and f["game_id"] == game_id]

    async def close(self) -> None:
        """Close from our side."""
        await self.ws.close()
        self._reader.cancel()
        await asyncio.gather(self._reader, return_exceptions=True)
