"""Real-time throughput and latency of ``meeple serve``, beside a bare relay.

::

    python benchmarks/serve.py                 # ~3 minutes; figures on stdout
    python benchmarks/serve.py --quick         # the smoke test's seconds-long run
    python benchmarks/serve.py --only relay    # the baseline alone
    python benchmarks/serve.py --repeat 1 --phases 1   # one max-load run of each

Load: rooms of four playing fourchess (random legal moves, every seat keeping the
rules state and doing the same rules work), driven from ``--workers`` client
processes. Phases:

1. relay, no think time: a minimal ``websockets`` server that only rebroadcasts
   each frame to its room (no auth, no rules, no store) -> the baseline moves/s;
2. meeple, no think time -> max moves/s; the ratio to the relay (goal >= 0.5);
   phases 1 and 2 alternate ``--repeat`` times (default 3) on the same two servers
   and the ratio printed is the median of the runs' ratios: this machine's speed
   drifts by a third from minute to minute, and alternating makes it weigh on both;
3. meeple, fixed think time (``--think-ms``);
4. meeple at half its (median) max (paced rooms) -> p99 ack (goal < 50 ms).

Per phase: moves/s, ack latency p50/p99 (move sent -> its ack), delivery latency
p50/p99 (move sent -> event received by each other seat), server CPU ms per move
(psutil, user+system), the client processes' CPU ms per move ("clients": they
share the machine's cores with the server, so on a small machine they bound the
moves/s of both servers) and the server's RSS. A PNG of the latency distributions goes to
``--plot`` (default artifacts/). Progress goes to standard error.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import multiprocessing as mp
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _harness as h
import _load

CTX = mp.get_context("fork")  # workers inherit the parent's imports: fast starts


# ----------------------------------------------------------------------- the relay


def relay_main(port: int, ready: Any) -> None:
    """A bare relay: each frame is rebroadcast to every connection of its room path."""
    import uvloop
    import websockets

    rooms: dict[str, set[Any]] = {}

    async def handler(ws: Any) -> None:
        members = rooms.setdefault(ws.request.path, set())
        members.add(ws)
        try:
            async for frame in ws:
                websockets.broadcast(members, frame)
        except websockets.ConnectionClosed:
            pass
        finally:
            members.discard(ws)

    async def main() -> None:
        async with websockets.serve(handler, "127.0.0.1", port, compression=None):
            ready.set()
            await asyncio.Future()

    h.raise_open_files()
    uvloop.run(main())


# ----------------------------------------------------------------------- phases


@dataclass
class Figures:
    """One phase's results."""

    name: str
    moves_per_s: float
    ack_ms: list[float]
    delivery_ms: list[float]
    cpu_per_move_ms: float
    client_cpu_per_move_ms: float  # the load processes' own CPU (they share the cores)
    rss_mib: float
    games: int
    errors: dict[str, int]

    def line(self) -> str:
        p = h.percentile
        return (
            f"{self.name:<26} {self.moves_per_s:>9.0f} "
            f"{p(self.ack_ms, 0.5):>8.1f} {p(self.ack_ms, 0.99):>8.1f} "
            f"{p(self.delivery_ms, 0.5):>8.1f} {p(self.delivery_ms, 0.99):>8.1f} "
            f"{self.cpu_per_move_ms:>10.3f} {self.client_cpu_per_move_ms:>10.3f} "
            f"{self.rss_mib:>8.1f} {self.games:>6}"
            + (f"  errors {self.errors}" if self.errors else "")
        )


HEADER = (
    f"{'phase':<26} {'moves/s':>9} {'ack p50':>8} {'ack p99':>8} "
    f"{'dlv p50':>8} {'dlv p99':>8} {'cpu ms/mv':>10} {'clients':>10} {'RSS MiB':>8} "
    f"{'games':>6}"
)


def _worker(spec: _load.WorkerSpec, ready: Any, go: Any, results: Any) -> None:
    import uvloop

    h.raise_open_files()
    try:
        summary = uvloop.run(_load.run_worker(spec, ready.release, go.wait))
        results.put(summary)
    except BaseException as exc:
        results.put({"failed": repr(exc)})
        raise


def run_phase(
    name: str,
    kind: str,
    url: str,
    server_pid: int,
    args: argparse.Namespace,
    *,
    tokens: list[str] | None = None,
    think_ms: int = 0,
    pace_s: float | None = None,
) -> Figures:
    """Run one load phase with ``args.workers`` processes and measure the server."""
    h.progress(
        f"phase {name}: starting {args.workers} workers x {args.rooms // args.workers} rooms"
    )
    ready = CTX.Semaphore(0)
    go = CTX.Event()
    results = CTX.Queue()
    per = args.rooms // args.workers
    workers = []
    for w in range(args.workers):
        spec = _load.WorkerSpec(
            kind=kind,
            url=url,
            rooms=per,
            first_room=w * per,
            tokens=(tokens or [])[w * per * _load.SEATS : (w + 1) * per * _load.SEATS],
            think_ms=think_ms,
            pace_s=pace_s,
            warmup_s=args.warmup,
            measure_s=args.measure,
            seed=w + 1,
        )
        proc = CTX.Process(target=_worker, args=(spec, ready, go, results), daemon=True)
        proc.start()
        workers.append(proc)
    for _ in workers:
        if not ready.acquire(timeout=120):
            raise RuntimeError(f"phase {name}: workers did not get ready")
    go.set()
    time.sleep(args.warmup)
    before = h.Usage.of(server_pid)
    clients_before = sum(h.Usage.of(p.pid or 0).cpu_s for p in workers)
    time.sleep(args.measure)
    after = h.Usage.of(server_pid)
    clients_after = sum(h.Usage.of(p.pid or 0).cpu_s for p in workers)
    summaries = [results.get(timeout=120) for _ in workers]
    for proc in workers:
        proc.join(30)
    failed = [s["failed"] for s in summaries if "failed" in s]
    if failed:
        raise RuntimeError(f"phase {name}: worker failed: {failed[0]}")
    moves = sum(s["moves"] for s in summaries)
    errors: dict[str, int] = {}
    for s in summaries:
        for code, count in s["errors"].items():
            errors[code] = errors.get(code, 0) + count
    figures = Figures(
        name=name,
        moves_per_s=moves / args.measure,
        ack_ms=[x for s in summaries for x in s["ack_ms"]],
        delivery_ms=[x for s in summaries for x in s["delivery_ms"]],
        cpu_per_move_ms=(after.cpu_s - before.cpu_s) / moves * 1000 if moves else float("nan"),
        client_cpu_per_move_ms=(
            (clients_after - clients_before) / moves * 1000 if moves else float("nan")
        ),
        rss_mib=after.rss / 2**20,
        games=sum(s["games"] for s in summaries),
        errors=errors,
    )
    h.progress(f"phase {name}: {figures.moves_per_s:.0f} moves/s")
    return figures


@contextlib.contextmanager
def relay_server() -> Iterator[tuple[str, int]]:
    """The baseline server in a child process: its URL and pid."""
    port = h.free_port()
    ready = CTX.Event()
    relay = CTX.Process(target=relay_main, args=(port, ready), daemon=True)
    relay.start()
    try:
        if not ready.wait(30):
            raise RuntimeError("relay did not start")
        assert relay.pid is not None
        yield f"ws://127.0.0.1:{port}", relay.pid
    finally:
        relay.terminate()
        relay.join(10)


async def _accounts(base_url: str, count: int) -> list[str]:
    from meeple.client import Api

    async with Api(base_url) as api:
        sem = asyncio.Semaphore(8)

        async def one(n: int) -> str:
            async with sem:
                tokens = await api.register_or_login(f"bench-{n}", f"Bench-pass-{n:04d}")
                return tokens.access_token

        return list(await asyncio.gather(*(one(n) for n in range(count))))


@contextlib.contextmanager
def meeple_server(args: argparse.Namespace, data_dir: Path) -> Iterator[h.MeepleServer]:
    """``meeple serve`` in a child process, or the one given by ``--server-url``."""
    if args.server_url:  # a server started by hand (e.g. under a profiler)
        yield h.MeepleServer(None, args.server_url, "", data_dir, args.server_pid)
        return
    with h.meeple_server(data_dir) as server:
        yield server


def run_all(args: argparse.Namespace, data_dir: Path) -> list[Figures]:
    """The max-load phases of relay and meeple, alternating ``--repeat`` times (so that
    a machine whose speed drifts weighs on both alike), then meeple with think time
    and at half its (median) max."""
    phases: list[Figures] = []
    with contextlib.ExitStack() as stack:
        relay = server = None
        if args.only != "meeple":
            relay = stack.enter_context(relay_server())
        if args.only != "relay":
            server = stack.enter_context(meeple_server(args, data_dir))
        tokens: list[str] = []
        url = ""
        if server is not None:
            h.progress(f"meeple serve up at {server.base_url} (pid {server.pid})")
            tokens = h.run_async(_accounts(server.base_url, args.rooms * _load.SEATS))
            url = server.base_url.replace("http://", "ws://") + "/ws"
        for run in range(args.repeat):
            suffix = f" #{run + 1}" if args.repeat > 1 else ""
            if relay is not None:
                phases.append(run_phase(f"relay, no think{suffix}", "relay", *relay, args))
            if server is not None:
                name = f"meeple, no think{suffix}"
                phases.append(run_phase(name, "meeple", url, server.pid, args, tokens=tokens))
        if server is None or args.phases < 2:
            return phases
        phases.append(
            run_phase(
                f"meeple, think {args.think_ms} ms",
                "meeple",
                url,
                server.pid,
                args,
                tokens=tokens,
                think_ms=args.think_ms,
            )
        )
        max_rate = statistics.median(p.moves_per_s for p in phases if _is_max(p, "meeple"))
        if max_rate > 0 and args.phases >= 3:
            pace = args.rooms / (max_rate / 2)  # each room's share of half the max rate
            phases.append(
                run_phase(
                    f"meeple, half load ({max_rate / 2:.0f}/s)",
                    "meeple",
                    url,
                    server.pid,
                    args,
                    tokens=tokens,
                    pace_s=pace,
                )
            )
    return phases


def _is_max(phase: Figures, kind: str) -> bool:
    return phase.name.startswith(f"{kind}, no think")


def plot(phases: list[Figures], path: Path) -> None:
    """Latency distributions (CDFs) per phase, ack and delivery side by side."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    for ax, attr, title in (
        (axes[0], "ack_ms", "ack latency"),
        (axes[1], "delivery_ms", "delivery latency"),
    ):
        for phase in phases:
            values = sorted(getattr(phase, attr))
            if values:
                ys = [(i + 1) / len(values) for i in range(len(values))]
                ax.plot(values, ys, label=phase.name)
        ax.set_xscale("log")
        ax.set_xlabel("ms (log)")
        ax.set_ylabel("fraction")
        ax.set_title(title)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rooms", type=int, default=16, help="rooms of four (default 16)")
    parser.add_argument("--workers", type=int, default=2, help="client processes (default 2)")
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds before measuring")
    parser.add_argument("--measure", type=float, default=10.0, help="seconds measured per phase")
    parser.add_argument("--think-ms", type=int, default=100, help="think time of phase 3")
    parser.add_argument("--only", choices=["relay", "meeple", "both"], default="both")
    parser.add_argument("--plot", type=Path, default=Path("artifacts"), help="PNG directory")
    parser.add_argument("--quick", action="store_true", help="a few seconds (smoke test)")
    parser.add_argument(
        "--phases", type=int, default=3, help="meeple phases to run, in order (default all 3)"
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=3,
        help="max-load runs of relay and meeple, alternating; the ratio is the median (default 3)",
    )
    parser.add_argument("--server-url", help="drive this running meeple server instead")
    parser.add_argument("--server-pid", type=int, help="its process id (for CPU and RSS)")
    args = parser.parse_args(argv)
    if args.quick:
        args.rooms, args.workers, args.warmup, args.measure = 2, 1, 0.5, 1.5
        args.repeat = 1
        args.think_ms = min(args.think_ms, 20)
    args.rooms = max(args.workers, args.rooms - args.rooms % args.workers)
    h.raise_open_files()
    tmp = Path(tempfile.mkdtemp(prefix="meeple-bench-"))
    try:
        phases = run_all(args, tmp / "data")
    finally:
        h.tidy(tmp)
    print(
        f"# {args.rooms} rooms of {_load.SEATS} (fourchess), {args.workers} client processes, "
        f"{args.measure:g} s measured per phase after {args.warmup:g} s warm-up"
    )
    print(HEADER)
    for phase in phases:
        print(phase.line())
    # The ratio compares the no-think phases (max load); the later meeple phases
    # (think time, half load) must not stand in for it.
    relays = [p for p in phases if _is_max(p, "relay")]
    meeples = [p for p in phases if _is_max(p, "meeple")]
    ratios = [
        m.moves_per_s / r.moves_per_s
        for r, m in zip(relays, meeples, strict=False)
        if r.moves_per_s
    ]
    if ratios:
        spread = f" (runs: {min(ratios):.2f}-{max(ratios):.2f})" if len(ratios) > 1 else ""
        ratio = statistics.median(ratios)
        print(f"meeple/relay moves/s ratio: {ratio:.2f}{spread} (goal >= 0.5)")
    half = next((p for p in phases if "half load" in p.name), None)
    if half is not None:
        p99 = h.percentile(half.ack_ms, 0.99)
        print(f"half-load ack p99: {p99:.1f} ms (goal < 50 ms)")
    png = args.plot / "serve-latency.png"
    plot(phases, png)
    print(f"plot: {png}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
