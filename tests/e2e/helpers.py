"""Steps the end-to-end tests share: matching players, following games, reading the log."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import select

from meeple.store.database import Store
from meeple.store.schema import game_events
from tests.gateway.wsclient import Frame, WsClient


async def queue_and_match(
    clients: list[WsClient], game: str, time_control: str, stake: int
) -> tuple[str, dict[int, WsClient]]:
    """Queue every client; the game id and the clients by seat once all are matched."""
    for client in clients:
        ack = await client.call(
            {"type": "queue.join", "game": game, "time_control": time_control, "stake": stake}
        )
        assert ack["type"] == "ack", ack
    matched = [await client.type("matched", within=10) for client in clients]
    game_ids = {frame["game_id"] for frame in matched}
    assert len(game_ids) == 1, matched
    return game_ids.pop(), {frame["seat"]: c for frame, c in zip(matched, clients, strict=True)}


async def subscribe(client: WsClient, game_id: str, after_seq: int = 0) -> Frame:
    """Subscribe; the ack (after the state or events it brought)."""
    ack = await client.call({"type": "subscribe", "game_id": game_id, "after_seq": after_seq})
    assert ack["type"] == "ack", ack
    return ack


async def until_event(client: WsClient, game_id: str, kind: str, within: float = 30) -> Frame:
    """The next event of ``kind`` in the game."""
    return await client.wait_for(
        lambda f: f.get("type") == "event" and f["game_id"] == game_id and f["kind"] == kind,
        within,
        what=f"{kind} event",
    )


async def eventually(check: Callable[[], Awaitable[bool]], what: str, within: float = 10) -> None:
    """Poll an async condition until it holds (state kept elsewhere: the store, the api)."""
    deadline = time.monotonic() + within
    while not await check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


async def stored_events(data_dir: Path, game_id: str) -> list[tuple[int, dict[str, Any]]]:
    """The game's event log as committed in the server's SQLite store."""
    store = await Store.open(f"sqlite+aiosqlite:///{data_dir / 'meeple.sqlite3'}", migrate=False)
    try:
        async with store.connect() as conn:
            rows = await conn.execute(
                select(game_events.c.seq, game_events.c.body)
                .where(game_events.c.game_id == game_id)
                .order_by(game_events.c.seq)
            )
            return [(int(seq), orjson.loads(body)) for seq, body in rows]
    finally:
        await store.close()


def seqs(events: list[Frame]) -> list[int]:
    """The seq numbers of event frames, in arrival order."""
    return [int(e["seq"]) for e in events]
