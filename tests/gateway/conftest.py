"""A real gateway on a real port, the in-memory bus, a SQLite store and the fake
engine of :mod:`tests.gateway.fake_engine`.

Every test runs on both transports: ``wire`` (the lean server of ``meeple serve``,
:func:`meeple.gateway.server.serve_gateway`) and ``asgi`` (:meth:`Gateway.routes`
under uvicorn in this process)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from sqlalchemy import insert
from starlette.applications import Starlette

from meeple.auth.tokens import TokenSigner
from meeple.bus.base import Bus
from meeple.bus.memory import MemoryBus
from meeple.gateway import Gateway
from meeple.gateway.server import serve_gateway
from meeple.settings import Settings
from meeple.store.database import Store
from meeple.store.schema import players
from tests.gateway.fake_engine import FakeEngine
from tests.gateway.wsclient import WsClient
from tests.services import free_port, serve_in_task

KEY = "test-signing-key-of-the-gateway-tests-0123456789"


@dataclass
class Rig:
    """Everything one gateway test needs."""

    gateway: Gateway
    engine: FakeEngine
    store: Store
    bus: Bus
    url: str
    signer: TokenSigner
    clients: list[WsClient]

    async def player(self, name: str = "p") -> tuple[int, str]:
        """A new player's id and a valid access token."""
        now = datetime.now(UTC)
        async with self.store.begin() as conn:
            result = await conn.execute(
                insert(players)
                .values(
                    username=name,
                    username_key=uuid.uuid4().hex[:32],
                    display_name=name,
                    password_hash="x",
                    created_at=now,
                    updated_at=now,
                )
                .returning(players.c.id)
            )
            player_id = int(result.scalar_one())
        token, _ = self.signer.issue(player_id, name, "player", None)
        return player_id, token

    async def connect(self, token: str | None, **kwargs: Any) -> WsClient:
        """A client connected to the gateway (closed at teardown)."""
        client = await WsClient.open(self.url, token, **kwargs)
        self.clients.append(client)
        return client

    async def welcome(self, token: str) -> WsClient:
        """A client past its welcome frame."""
        client = await self.connect(token)
        await client.type("welcome")
        return client


MakeRig = Callable[..., Awaitable[Rig]]


@pytest.fixture(params=["wire", "asgi"])
async def make_rig(
    sqlite_url: str, tmp_path: Path, request: pytest.FixtureRequest
) -> AsyncIterator[MakeRig]:
    """Build a rig with setting overrides: ``await make_rig(command_timeout_s=0.5)``."""
    stops: list[Callable[[], Awaitable[None]]] = []
    transport = request.param

    async def build(tick_s: float = 0.05, bus: Bus | None = None, **overrides: Any) -> Rig:
        settings = Settings(data_dir=tmp_path, signing_key=KEY, **overrides)
        store = await Store.open(sqlite_url, migrate=False)
        bus = bus or MemoryBus()
        engine = FakeEngine(store, bus)
        await engine.start()
        gateway = Gateway(store=store, bus=bus, settings=settings, gateway_id="gw1", tick_s=tick_s)
        await gateway.start()
        port = free_port()
        serving = await _serve(transport, gateway, port)
        rig = Rig(gateway, engine, store, bus, f"ws://127.0.0.1:{port}/ws", _signer(), [])

        async def stop() -> None:
            for client in rig.clients:
                await client.close()
            await gateway.stop()
            await serving()
            await engine.stop()
            await bus.close()
            await store.close()

        stops.append(stop)
        return rig

    yield build
    for stop in reversed(stops):
        await stop()


@pytest.fixture
async def rig(make_rig: MakeRig) -> Rig:
    """A rig with default settings."""
    return await make_rig()


async def _serve(transport: str, gateway: Gateway, port: int) -> Callable[[], Awaitable[None]]:
    """Listen on ``port`` with ``transport``; returns the function that stops listening."""
    if transport == "wire":
        server = await serve_gateway(gateway, "127.0.0.1", port)

        async def stop_wire() -> None:
            server.close()
            await server.wait_closed()

        return stop_wire
    config = uvicorn.Config(
        Starlette(routes=gateway.routes()),
        host="127.0.0.1",
        port=port,
        ws="websockets-sansio",
        ws_max_size=1 << 20,
        ws_per_message_deflate=False,
        lifespan="off",
        log_level="warning",
    )
    return await serve_in_task(config)


def _signer(ttl_s: int = 900) -> TokenSigner:
    return TokenSigner(KEY, ttl_s)
