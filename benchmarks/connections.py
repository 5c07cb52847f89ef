"""Memory per idle WebSocket connection: ``meeple serve`` beside a bare websockets server.

::

    python benchmarks/connections.py                 # 10,000 connections each
    python benchmarks/connections.py --count 2000
    python benchmarks/connections.py --quick         # 500 connections (smoke)

Opens ``--count`` authenticated, idle connections to each server from
``--processes`` client processes (each raises its open-files soft limit to the
hard limit), waits for them to settle, and reports each server's RSS growth per
connection (RSS after - RSS before, / count). The baseline is a bare
``websockets`` server (uvloop) that sends one greeting frame and holds each
connection. Goal: meeple <= 12 KiB per connection. Tokens are minted with the
server's signing key (logging 10,000 players in would measure argon2, not
connections). Progress goes to standard error, figures to standard output.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _harness as h

CTX = mp.get_context("fork")
SETTLE_S = 3.0


def bare_main(port: int, ready: Any) -> None:
    """The baseline: accept, greet once, hold the connection until the peer leaves."""
    import uvloop
    import websockets

    async def handler(ws: Any) -> None:
        await ws.send('{"type":"welcome"}')
        await ws.wait_closed()

    async def main() -> None:
        async with websockets.serve(handler, "127.0.0.1", port, compression=None):
            ready.set()
            await asyncio.Future()

    h.raise_open_files()
    uvloop.run(main())


async def _hold(urls: list[str], opened: Any, release: Any, parallel: int) -> int:
    """Open every URL's connection (``parallel`` at a time), report, hold until released."""
    import websockets

    sem = asyncio.Semaphore(parallel)
    conns: list[Any] = []
    failures = 0

    async def one(url: str) -> None:
        nonlocal failures
        async with sem:
            try:
                ws = await websockets.connect(url, compression=None, open_timeout=60)
                await ws.recv()  # the welcome: authenticated and registered
                conns.append(ws)
            except Exception:
                failures += 1

    await asyncio.gather(*(one(u) for u in urls))
    opened.put((len(conns), failures))
    await asyncio.get_running_loop().run_in_executor(None, release.wait)
    await asyncio.gather(*(ws.close() for ws in conns), return_exceptions=True)
    return len(conns)


def _client(urls: list[str], opened: Any, release: Any, parallel: int) -> None:
    import uvloop

    h.raise_open_files()
    uvloop.run(_hold(urls, opened, release, parallel))


def measure(name: str, pid: int, urls: list[str], processes: int) -> dict[str, float]:
    """Open ``urls`` from ``processes`` processes; the server's RSS growth per connection."""
    time.sleep(1.0)  # let start-up allocations finish
    before = h.Usage.of(pid).rss
    opened, release = CTX.Queue(), CTX.Event()
    chunks = [urls[i::processes] for i in range(processes)]
    procs = [
        CTX.Process(target=_client, args=(chunk, opened, release, 64), daemon=True)
        for chunk in chunks
    ]
    started = time.monotonic()
    for proc in procs:
        proc.start()
    total, failed = 0, 0
    for _ in procs:
        ok, bad = opened.get(timeout=600)
        total, failed = total + ok, failed + bad
        h.progress(f"{name}: {total} connections open ({failed} failed)")
    took = time.monotonic() - started
    time.sleep(SETTLE_S)
    after = h.Usage.of(pid).rss
    release.set()
    for proc in procs:
        proc.join(60)
    return {
        "connections": total,
        "failed": failed,
        "open_s": took,
        "rss_before_mib": before / 2**20,
        "rss_after_mib": after / 2**20,
        "kib_per_conn": (after - before) / 1024 / total if total else float("nan"),
    }


def bare(count: int, processes: int) -> dict[str, float]:
    port = h.free_port()
    ready = CTX.Event()
    server = CTX.Process(target=bare_main, args=(port, ready), daemon=True)
    server.start()
    try:
        if not ready.wait(30):
            raise RuntimeError("bare server did not start")
        assert server.pid is not None
        urls = [f"ws://127.0.0.1:{port}/ws?n={n}" for n in range(count)]
        return measure("bare websockets", server.pid, urls, processes)
    finally:
        server.terminate()
        server.join(10)


def meeple(count: int, processes: int, data_dir: Path) -> dict[str, float]:
    from meeple.auth.tokens import TokenSigner

    with h.meeple_server(data_dir) as server:
        signer = TokenSigner(server.signing_key, 3600)
        ws = server.base_url.replace("http://", "ws://") + "/ws"
        urls = []
        for n in range(count):
            token, _ = signer.issue(1_000_000 + n, f"idle-{n}", "player", None)
            urls.append(f"{ws}?token={token}")
        return measure("meeple serve", server.pid, urls, processes)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=10_000, help="connections (default 10000)")
    parser.add_argument("--processes", type=int, default=4, help="client processes (default 4)")
    parser.add_argument("--only", choices=["bare", "meeple", "both"], default="both")
    parser.add_argument("--quick", action="store_true", help="500 connections (smoke)")
    args = parser.parse_args(argv)
    if args.quick:
        args.count, args.processes = 500, 2
    h.raise_open_files()
    results: dict[str, dict[str, float]] = {}
    if args.only in ("bare", "both"):
        results["bare websockets"] = bare(args.count, args.processes)
    if args.only in ("meeple", "both"):
        tmp = Path(tempfile.mkdtemp(prefix="meeple-conn-"))
        try:
            results["meeple serve"] = meeple(args.count, args.processes, tmp / "data")
        finally:
            h.tidy(tmp)
    print(f"# {args.count} idle authenticated connections from {args.processes} processes")
    print(
        f"{'server':<18} {'open':>7} {'failed':>7} {'open s':>7} {'RSS before':>11} "
        f"{'RSS after':>10} {'KiB/conn':>9}"
    )
    for name, r in results.items():
        print(
            f"{name:<18} {r['connections']:>7.0f} {r['failed']:>7.0f} {r['open_s']:>7.1f} "
            f"{r['rss_before_mib']:>9.1f}Mi {r['rss_after_mib']:>8.1f}Mi {r['kib_per_conn']:>9.2f}"
        )
    if "meeple serve" in results:
        print(
            f"meeple KiB per connection: {results['meeple serve']['kib_per_conn']:.2f} (goal <= 12)"
        )
        if "bare websockets" in results:
            ratio = (
                results["meeple serve"]["kib_per_conn"] / results["bare websockets"]["kib_per_conn"]
            )
            print(f"meeple/bare memory per connection ratio: {ratio:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
