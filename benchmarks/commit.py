"""The store's commit path alone: ``Games.append_many`` batches, as the engine sends them.

::

    python benchmarks/commit.py                       # SQLite in a temporary dir
    python benchmarks/commit.py --batch 1 --rounds 300
    python benchmarks/commit.py --url postgresql+asyncpg://...   # an empty database

Each round appends one ``move`` event (a ~700-byte body, like a fourchess event
with its position and legal moves) and one command record to each of ``--batch``
games in ONE commit, then looks the batch's next command ids up (the engine's
at-most-once check before deciding). Figures: commit latency p50/p99, rows/s, and
this process's CPU per appended item (the commit path's own cost; fsync waits do
not count as CPU).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


import _harness as h
from meeple.engine import storage
from meeple.store.database import Store
from meeple.store.games import Append, Appended, CommandRecord, Games, NewEvent

BODY = b"x" * 700


async def run(args: argparse.Namespace) -> dict[str, float]:
    """Set up ``--batch`` games, append ``--rounds`` batches; the figures."""
    store = await Store.open(args.url)
    try:
        repo = Games(store)
        seated = await h.add_players(store, 4)
        ids = [f"bench{uuid.uuid4().hex[:20]}" for _ in range(args.batch)]
        for game_id in ids:
            await repo.create(game_id, game="fourchess", players=seated, currency="USD")
        seq = dict.fromkeys(ids, 0)
        commit_ms: list[float] = []
        lookup_ms: list[float] = []
        cpu0, wall0 = time.process_time(), time.perf_counter()
        for r in range(args.rounds):
            items = [
                Append(
                    game_id=g,
                    expected_seq=seq[g],
                    events=[NewEvent("move", r % 4, BODY, r)],
                    command=CommandRecord(seated[r % 4], f"c{r}", {"ok": True, "seq": seq[g] + 1}),
                )
                for g in ids
            ]
            keys = [(g, seated[r % 4], f"c{r}") for g in ids]
            if args.pause_ms:
                await asyncio.sleep(args.pause_ms / 1000)
            t0 = time.perf_counter()
            await storage.recorded_outcomes(store, keys)
            t1 = time.perf_counter()
            results = await repo.append_many(items)
            t2 = time.perf_counter()
            if not all(isinstance(x, Appended) for x in results):
                raise RuntimeError(f"append refused: {results[:3]}")
            for g in ids:
                seq[g] += 1
            lookup_ms.append((t1 - t0) * 1000)
            commit_ms.append((t2 - t1) * 1000)
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    finally:
        await store.close()
    appended = args.rounds * args.batch
    p = h.percentile
    return {
        "commit_p50_ms": p(commit_ms, 0.5),
        "commit_p99_ms": p(commit_ms, 0.99),
        "lookup_p50_ms": p(lookup_ms, 0.5),
        "items_per_s": appended / wall,
        "cpu_per_item_ms": cpu / appended * 1000,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=32, help="games per commit (default 32)")
    parser.add_argument("--rounds", type=int, default=200, help="commits (default 200)")
    parser.add_argument("--pause-ms", type=int, default=0, help="idle time between commits")
    parser.add_argument("--url", help="store URL (default: SQLite in a temporary dir)")
    args = parser.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="meeple-commit-"))
    try:
        if not args.url:
            args.url = f"sqlite+aiosqlite:///{tmp / 'meeple.db'}"
        figures = h.run_async(run(args))
    finally:
        h.tidy(tmp)
    assert isinstance(figures, dict)
    backend = args.url.split(":", 1)[0]
    print(f"# {backend}: {args.rounds} commits of {args.batch} items (pid {os.getpid()})")
    print("  ".join(f"{k} {v:.3f}" for k, v in figures.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
