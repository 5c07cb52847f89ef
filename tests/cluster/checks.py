"""The invariants every cluster test ends with, read from the store itself.

- every game's event log is contiguous from 1 (and ``games.last_seq`` agrees);
- every acknowledged command is recorded once (``game_commands``) with the seq
  it was acked with, and its move is in the log at that place; every move in the
  log was acknowledged exactly once (nothing applied twice, nothing invented);
- every client saw each game's frames without a gap or a duplicate, across
  reconnects (one state frame at most, when it first subscribed);
- every finished game is settled exactly once, escrowed exactly once;
- ``meeple ledger check`` (the real CLI) passes.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from typing import Any

import orjson
from sqlalchemy import func, select

from meeple.store.database import Store
from meeple.store.schema import game_commands, game_events, games, ledger_transfers
from tests.cluster.harness import Cluster
from tests.cluster.players import RecordingClient, Table, view_report


async def event_logs(cluster: Cluster, game_ids: list[str]) -> dict[str, list[dict[str, Any]]]:
    """Each game's committed events (decoded bodies), by seq."""
    store = await Store.open(cluster.database_url, migrate=False)
    try:
        async with store.connect() as conn:
            rows = await conn.execute(
                select(game_events.c.game_id, game_events.c.seq, game_events.c.body)
                .where(game_events.c.game_id.in_(game_ids))
                .order_by(game_events.c.game_id, game_events.c.seq)
            )
            logs: dict[str, list[dict[str, Any]]] = {g: [] for g in game_ids}
            for game_id, seq, body in rows:
                event = orjson.loads(body)
                assert event["seq"] == seq
                logs[game_id].append(event)
            return logs
    finally:
        await store.close()


async def until_settled(cluster: Cluster, game_ids: list[str], within: float = 20) -> None:
    """Wait until every finished staked game of ``game_ids`` is settled: settlement
    follows the ``game_over`` commit (the engine settles after it, retried if it fails)."""
    store = await Store.open(cluster.database_url, migrate=False)
    try:
        deadline = time.monotonic() + within
        while True:
            async with store.connect() as conn:
                waiting = (
                    await conn.execute(
                        select(func.count()).where(
                            games.c.id.in_(game_ids),
                            games.c.status == "finished",
                            games.c.stake > 0,
                            games.c.settled.is_(False),
                        )
                    )
                ).scalar_one()
            if not waiting:
                return
            assert time.monotonic() < deadline, f"{waiting} finished games still unsettled"
            await asyncio.sleep(0.1)
    finally:
        await store.close()


async def check_invariants(cluster: Cluster, tables: list[Table]) -> dict[str, Any]:
    """Assert every invariant for ``tables``; a few figures for the report."""
    game_ids = [t.game_id for t in tables]
    await until_settled(cluster, game_ids)
    logs = await event_logs(cluster, game_ids)
    store = await Store.open(cluster.database_url, migrate=False)
    try:
        async with store.connect() as conn:
            game_rows = {
                r.id: r for r in await conn.execute(select(games).where(games.c.id.in_(game_ids)))
            }
            command_rows = list(
                await conn.execute(
                    select(game_commands).where(game_commands.c.game_id.in_(game_ids))
                )
            )
            transfers = Counter(
                (r.game_id, r.kind)
                for r in await conn.execute(
                    select(ledger_transfers.c.game_id, ledger_transfers.c.kind).where(
                        ledger_transfers.c.game_id.in_(game_ids)
                    )
                )
            )
            settled_flags = {
                r.id: bool(r.settled)
                for r in await conn.execute(
                    select(games.c.id, games.c.settled).where(games.c.id.in_(game_ids))
                )
            }
            total_events = (
                await conn.execute(select(func.count()).where(game_events.c.game_id.in_(game_ids)))
            ).scalar_one()
    finally:
        await store.close()

    commands = {(r.game_id, r.player_id, r.command_id): r for r in command_rows}
    for table in tables:
        log = logs[table.game_id]
        gid = table.game_id
        # One ordered log, contiguous from 1.
        assert [e["seq"] for e in log] == list(range(1, len(log) + 1)), gid
        assert log[0]["kind"] == "start", gid
        assert int(game_rows[gid].last_seq) == len(log), gid
        # Every ack is one recorded command whose move sits in the log where it was acked.
        acked_seqs = Counter()
        for ack in table.acks:
            row = commands.get((gid, ack.player_id, ack.command_id))
            assert row is not None, f"acked but not recorded: {ack}"
            assert row.last_seq == ack.seq, (ack, row.first_seq, row.last_seq)
            first = log[int(row.first_seq) - 1]
            assert first["seat"] == ack.seat, (ack, first)
            if ack.kind == "move":
                assert first["kind"] == "move" and first["data"]["move"] == ack.move, (ack, first)
                acked_seqs[int(row.first_seq)] += 1
            else:
                assert first["kind"] in ("resign", "game_over"), (ack, first)
        assert all(n == 1 for n in acked_seqs.values()), acked_seqs
        # Every move in the log was acknowledged (players never give up on a command).
        logged_moves = [e["seq"] for e in log if e["kind"] == "move"]
        assert sorted(acked_seqs) == logged_moves, (gid, sorted(acked_seqs), logged_moves)
        # Each client saw the game gap-free and duplicate-free across reconnects.
        for client in table.seats.values():
            check_wire(client, gid, len(log))
        # Money: escrowed once; a finished game settled exactly once.
        status = game_rows[gid].status
        assert transfers[(gid, "escrow")] == 1, (gid, transfers)
        if status == "finished":
            assert log[-1]["kind"] == "game_over", gid
            assert transfers[(gid, "settlement")] == 1, (gid, transfers)
            assert settled_flags[gid], gid
        assert transfers[(gid, "refund")] == 0, (gid, transfers)
    ledger = cluster.meeple("ledger", "check")
    assert ledger.returncode == 0, ledger.stdout + ledger.stderr
    return {
        "games": len(tables),
        "events": total_events,
        "acks": sum(len(t.acks) for t in tables),
        "retries": Counter(code for t in tables for code in t.retries),
    }


def check_wire(client: RecordingClient, game_id: str, last_seq: int) -> None:
    """The frames of ``game_id`` this client received: one state (or the start
    event) then every later seq exactly once, in order, up to ``last_seq``."""
    frames = client.wire.get(game_id, [])
    assert frames, f"no frames of {game_id}"
    told = view_report(client, game_id)
    states = [i for i, (kind, _) in enumerate(frames) if kind == "state"]
    assert states in ([], [0]), f"{game_id}: state frames at {states}: {told}"
    seqs = [seq for _, seq in frames]
    first = seqs[0]
    assert seqs == list(range(first, first + len(seqs))), f"{game_id}: gap/duplicate {told}"
    assert seqs[-1] == last_seq, (game_id, seqs[-1], last_seq, told)
