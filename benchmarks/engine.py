"""The engine alone: a move's path from the command queue to its reply, no gateway.

::

    python benchmarks/engine.py                    # 32 games, no think time
    python benchmarks/engine.py --games 1 --think-ms 100   # the per-move floor

A real :class:`meeple.engine.Engine` on a SQLite store (temporary dir) and the
in-memory bus, driven like a gateway drives it: per game, the seat to act pushes
a random legal ``move`` command and waits for its reply (after the commit).
Figures: moves/s, reply latency p50/p99 (push -> reply), this process's CPU per
move, and the store commits' batch sizes.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


import _harness as h
from meeple import rules
from meeple.bus.memory import MemoryBus
from meeple.engine import Engine
from meeple.ledger import Ledger
from meeple.obs import metrics
from meeple.protocol.internal import (
    Command,
    CommandReply,
    command_queue,
    decode_reply,
    encode_internal,
    reply_topic,
    shard_of,
)
from meeple.settings import Settings
from meeple.store.database import Store
from meeple.store.games import Games

GATEWAY = "bench-gw"


class Driver:
    """Pushes commands, resolves their replies, keeps each game's rules state."""

    def __init__(self, bus: MemoryBus) -> None:
        self.bus = bus
        self.pending: dict[str, asyncio.Future[CommandReply]] = {}
        self.count = 0

    async def send(self, game_id: str, player_id: int, kind: str, arg: str | None) -> CommandReply:
        self.count += 1
        cid = f"c{self.count}"
        future = asyncio.get_running_loop().create_future()
        self.pending[cid] = future
        command = Command(
            game_id=game_id,
            player_id=player_id,
            command_id=cid,
            kind=kind,
            arg=arg,
            reply_to=GATEWAY,
            sent_ms=int(time.time() * 1000),
        )
        await self.bus.push(command_queue(shard_of(game_id)), encode_internal(command))
        return await asyncio.wait_for(future, 30)

    async def read(self) -> None:
        sub = self.bus.subscriber(limit=1_000_000)
        await sub.subscribe(reply_topic(GATEWAY))
        self.ready.set()
        async for _, data in sub:
            reply = decode_reply(data)
            future = self.pending.pop(reply.command_id, None)
            if future is not None and not future.done():
                future.set_result(reply)

    ready: asyncio.Event


async def play(
    driver: Driver, games: Games, seats: list[int], args: argparse.Namespace, stop_at: float
) -> tuple[int, list[float]]:
    """Games one after the other until ``stop_at``; (moves, latencies in ms)."""
    rng = random.Random()
    game = rules.get("fourchess")
    moves, latency = 0, []
    while time.monotonic() < stop_at:
        game_id = f"g{uuid.uuid4().hex[:12]}"
        await games.create(
            game_id,
            game="fourchess",
            players=seats,
            currency="USD",
            base_ms=600_000,
            increment_ms=5_000,
            status="active",
        )
        await driver.send(game_id, 0, "start", None)
        state = game.new(len(seats))
        while time.monotonic() < stop_at and game.result(state) is None:
            seat = game.to_act(state)[0]
            move = rng.choice(game.legal_moves(state, seat))
            text = game.format_move(state, move)
            if args.think_ms:
                await asyncio.sleep(args.think_ms / 1000)
            sent = time.perf_counter()
            reply = await driver.send(game_id, seats[seat], "move", text)
            if not reply.ok:
                raise RuntimeError(f"move refused: {reply}")
            latency.append((time.perf_counter() - sent) * 1000)
            moves += 1
            state = game.play(state, seat, move).state
    return moves, latency


def _commits() -> tuple[float, float]:
    """Events committed and store commits so far (the engine's batch histogram)."""
    samples = {s.name: s.value for s in metrics.COMMIT_BATCH.collect()[0].samples}
    return samples["meeple_commit_batch_events_sum"], samples["meeple_commit_batch_events_count"]


async def run(args: argparse.Namespace, data_dir: Path) -> dict[str, float]:
    """Start an engine, play ``--games`` games at once for ``--seconds``; the figures."""
    settings = Settings(data_dir=data_dir, engine_batch_wait_ms=args.batch_wait_ms)
    store = await Store.open(settings.effective_database_url)
    bus = MemoryBus()
    engine = Engine(
        store=store, bus=bus, ledger=Ledger(store, settings.currency), settings=settings
    )
    driver = Driver(bus)
    driver.ready = asyncio.Event()
    reader = asyncio.create_task(driver.read())
    await driver.ready.wait()
    await engine.start()
    try:
        seats = await h.add_players(store, 4 * args.games)
        repo = Games(store)
        stop_at = time.monotonic() + args.seconds
        events0, commits0 = _commits()
        cpu0, wall0 = time.process_time(), time.perf_counter()
        done = await asyncio.gather(
            *(
                play(driver, repo, seats[4 * g : 4 * g + 4], args, stop_at)
                for g in range(args.games)
            )
        )
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
        events, commits = (a - b for a, b in zip(_commits(), (events0, commits0), strict=True))
    finally:
        await engine.stop()
        reader.cancel()
        await store.close()
    moves = sum(m for m, _ in done)
    latency = [x for _, lat in done for x in lat]
    return {
        "moves_per_s": moves / wall,
        "reply_p50_ms": h.percentile(latency, 0.5),
        "reply_p99_ms": h.percentile(latency, 0.99),
        "cpu_per_move_ms": cpu / moves * 1000 if moves else float("nan"),
        "events_per_commit": events / commits if commits else float("nan"),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--games", type=int, default=32, help="games played at once (default 32)")
    parser.add_argument("--seconds", type=float, default=10.0, help="how long (default 10)")
    parser.add_argument("--think-ms", type=int, default=0, help="pause before each move")
    parser.add_argument(
        "--batch-wait-ms",
        type=int,
        default=Settings.model_fields["engine_batch_wait_ms"].default,
        help="the engine's engine_batch_wait_ms (default: the setting's default)",
    )
    args = parser.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="meeple-engine-"))
    try:
        figures = h.run_async(run(args, tmp))
    finally:
        h.tidy(tmp)
    assert isinstance(figures, dict)
    print(
        f"# engine: {args.games} fourchess games at once, think {args.think_ms} ms, "
        f"batch wait {args.batch_wait_ms} ms, {args.seconds:g} s"
    )
    print("  ".join(f"{k} {v:.2f}" for k, v in figures.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
