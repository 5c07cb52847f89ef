"""Scale-out on one machine: meeple as separate processes on PostgreSQL and Redis.

::

    python benchmarks/cluster.py              # ~4 minutes; figures on stdout
    python benchmarks/cluster.py --quick      # the smoke test's short run
    python benchmarks/cluster.py --kills 10   # more failover samples

Starts its own PostgreSQL and Redis (the classes of tests/services.py), then for
each configuration ``G+E`` (default ``1+1`` and ``2+2``): one ``meeple api``, G
``meeple gateway`` and E ``meeple engine`` processes on free ports, on a fresh
database. Load: rooms of four playing fourchess (benchmarks/_load.py), the seats of
a room spread over the gateways (so every game's events cross gateways), from
``--workers`` client processes. Phases per configuration:

1. ``max``: no think time -> moves/s at saturation;
2. ``paced``: every room paced to ``--paced-rate`` moves/s in total -> latency at
   a moderate load.

Per phase: moves/s, ack p50/p99 (move sent -> its ack), delivery p99 (move sent ->
event at each other seat), CPU milliseconds per move of each tier (psutil
user+system over the measured window: api, gateways, engines, redis-server,
postgres = the postmaster and all its backends, reaped ones included) and RSS.

Failover (on the last configuration, which needs 2+ engines): with paced games in
play, SIGKILL one engine ``--kills`` times (restarting it between). Per kill, the
games that engine owned (its shard leases at the kill, games with events in the
last seconds) and, for each, the time from the kill to its next accepted move: the
ack of the first move the store committed after the kill (the store's commit time
when no client saw that ack). Goal: p99 < 3 s. Progress goes to standard error; a
PNG to ``--plot``.
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing as mp
import os
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parent.parent))  # tests.services, tests.cluster

import psutil
from tests.cluster.harness import Role
from tests.services import PostgresServer, RedisServer

import _harness as h
import _load
import serve as single  # benchmarks/serve.py: its worker entry and account helper

CTX = mp.get_context("fork")
TIERS = ("api", "gateway", "engine", "redis", "postgres")
GOAL_FAILOVER_P99_S = 3.0


# ----------------------------------------------------------------------- processes


def tree_cpu_s(pid: int | None) -> float:
    """CPU seconds (user+system) of a process, its live descendants and its reaped
    children (so short-lived PostgreSQL backends are not lost)."""
    if not pid:
        return float("nan")
    try:
        root = psutil.Process(pid)
        times = root.cpu_times()
        total = times.user + times.system + times.children_user + times.children_system
        for child in root.children(recursive=True):
            with contextlib.suppress(psutil.NoSuchProcess):
                ct = child.cpu_times()
                total += ct.user + ct.system
    except psutil.NoSuchProcess:
        return float("nan")
    return total


def tree_rss(pid: int | None) -> int:
    """Resident bytes of a process and its descendants."""
    return h.Usage.of(pid).rss if pid else 0


@dataclass
class Cluster:
    """The api, gateways and engines of one configuration, on shared PG + Redis."""

    root: Path
    env: dict[str, str]
    postgres: PostgresServer
    redis: RedisServer
    gateways: int
    engines: int
    api: Role = field(init=False)
    gws: list[Role] = field(init=False)
    engs: list[Role] = field(init=False)

    def __post_init__(self) -> None:
        self.api = Role("api", 1, self.root, self.env)
        self.gws = [Role("gateway", i + 1, self.root, self.env) for i in range(self.gateways)]
        self.engs = [Role("engine", i + 1, self.root, self.env) for i in range(self.engines)]

    @property
    def roles(self) -> list[Role]:
        return [self.api, *self.gws, *self.engs]

    @property
    def name(self) -> str:
        return f"{self.gateways}+{self.engines}"

    def ws_urls(self) -> tuple[str, ...]:
        return tuple(f"ws://127.0.0.1:{g.port}/ws" for g in self.gws)

    def start(self) -> None:
        for role in self.roles:
            role.launch()
        for role in self.roles:
            role.wait_ready()
        self.wait_balanced()
        # A gateway learns that engines are up on its own poll, a moment later.
        for gateway in self.gws:
            h.wait_for(
                lambda g=gateway: g.readiness().get("games_available") is True,
                30,
                f"{gateway.name} to see the engines",
            )

    def stop(self) -> None:
        for role in self.roles:
            if role.running:
                assert role.proc is not None
                role.proc.send_signal(signal.SIGTERM)
        for role in self.roles:
            role.stop()

    def pids(self) -> dict[str, list[int | None]]:
        return {
            "api": [self.api.pid],
            "gateway": [g.pid for g in self.gws],
            "engine": [e.pid for e in self.engs],
            "redis": [self.redis.pid],
            "postgres": [self.postgres.pid],
        }

    def shards(self) -> dict[str, int]:
        """Engine id -> shards held (from each running engine's /readyz)."""
        out: dict[str, int] = {}
        for engine in self.engs:
            if engine.running:
                body = engine.readiness()
                out[str(body["engine"])] = int(str(body.get("shards", 0)))
        return out

    def wait_balanced(self, timeout: float = 60.0) -> None:
        """Until the running engines hold all 64 shards between them, none idle."""

        def balanced() -> bool:
            held = self.shards()
            return sum(held.values()) == 64 and all(held.values())

        h.wait_for(balanced, timeout, f"{self.name}: engines to share the 64 shards")


@dataclass
class Snapshot:
    """CPU seconds and RSS per tier, and the servers' counters, at one instant."""

    cpu: dict[str, float]
    rss: dict[str, int]
    counters: dict[str, float]

    @classmethod
    def take(cls, pids: dict[str, list[int | None]], cluster: Cluster) -> Snapshot:
        return cls(
            {t: sum(tree_cpu_s(p) for p in ps) for t, ps in pids.items()},
            {t: sum(tree_rss(p) for p in ps) for t, ps in pids.items()},
            server_counters(cluster),
        )


COUNTERS = ("pg_commits", "wal_bytes", "db_bytes", "redis_cmds")


async def _pg_counters(dsn: str, database: str) -> dict[str, float]:
    import asyncpg

    conn = await asyncpg.connect(dsn)
    try:
        row = await conn.fetchrow(
            "SELECT xact_commit, pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0') AS wal, "
            "pg_database_size($1) AS size FROM pg_stat_database WHERE datname = $1",
            database,
        )
        body = await conn.fetchval(
            "SELECT coalesce(avg(octet_length(body)), 0) FROM "
            "(SELECT body FROM game_events WHERE kind = 'move' ORDER BY ts_ms DESC LIMIT 2000) e"
        )
    finally:
        await conn.close()
    assert row is not None
    return {
        "pg_commits": row["xact_commit"],
        "wal_bytes": row["wal"],
        "db_bytes": row["size"],
        "event_bytes": float(body),
    }


def server_counters(cluster: Cluster) -> dict[str, float]:
    """PostgreSQL commits (of the benchmark's database), WAL position and database
    size; Redis commands processed."""
    import redis as redis_sync

    database = cluster.env["MEEPLE_DB_NAME"]
    got = h.run_async(_pg_counters(cluster.postgres.dsn(database), database))
    assert isinstance(got, dict)
    client = redis_sync.Redis.from_url(cluster.redis.url)
    try:
        stats = client.info("stats")
    finally:
        client.close()
    # pg_stat_database is updated when a backend reports (at most every second or so):
    # over a 10 s window the error is small.
    return {**got, "redis_cmds": float(stats["total_commands_processed"])}


# ----------------------------------------------------------------------- load phases


@dataclass
class Phase:
    """One load phase's figures."""

    config: str
    name: str
    moves_per_s: float
    ack_ms: list[float]
    delivery_ms: list[float]
    cpu_ms_per_move: dict[str, float]
    rss_mib: dict[str, float]
    per_move: dict[str, float]  # COUNTERS per move
    games: int
    errors: dict[str, int]
    accepted: list[tuple[str, int, float]] = field(default_factory=list, repr=False)

    @property
    def label(self) -> str:
        return f"{self.config} {self.name}"


def start_workers(
    args: argparse.Namespace,
    urls: tuple[str, ...],
    tokens: list[str],
    *,
    rooms: int,
    pace_s: float | None,
    think_ms: int,
    warmup_s: float,
    measure_s: float,
) -> tuple[list[Any], Any]:
    """Start the client processes; return once every room is seated and subscribed."""
    ready, go, results = CTX.Semaphore(0), CTX.Event(), CTX.Queue()
    per = rooms // args.workers
    workers = []
    for w in range(args.workers):
        spec = _load.WorkerSpec(
            kind="meeple",
            url=urls[0],
            urls=urls,
            rooms=per,
            first_room=w * per,
            tokens=tokens[w * per * _load.SEATS : (w + 1) * per * _load.SEATS],
            think_ms=think_ms,
            pace_s=pace_s,
            warmup_s=warmup_s,
            measure_s=measure_s,
            seed=w + 1,
        )
        proc = CTX.Process(target=single._worker, args=(spec, ready, go, results), daemon=True)
        proc.start()
        workers.append(proc)
    for _ in workers:
        if not ready.acquire(timeout=120):
            raise RuntimeError("load workers did not get ready")
    go.set()
    return workers, results


def collect(workers: list[Any], results: Any) -> list[dict[str, Any]]:
    """Every worker's summary (raises if one failed)."""
    summaries = [results.get(timeout=300) for _ in workers]
    for proc in workers:
        proc.join(30)
    failed = [s["failed"] for s in summaries if "failed" in s]
    if failed:
        raise RuntimeError(f"load worker failed: {failed[0]}")
    return summaries


def run_phase(
    cluster: Cluster,
    args: argparse.Namespace,
    tokens: list[str],
    name: str,
    *,
    pace_s: float | None = None,
) -> Phase:
    """One measured load phase against ``cluster``."""
    h.progress(f"{cluster.name} {name}: {args.rooms} rooms from {args.workers} workers")
    workers, results = start_workers(
        args,
        cluster.ws_urls(),
        tokens,
        rooms=args.rooms,
        pace_s=pace_s,
        think_ms=0,
        warmup_s=args.warmup,
        measure_s=args.measure,
    )
    time.sleep(args.warmup)
    pids = cluster.pids()
    before = Snapshot.take(pids, cluster)
    time.sleep(args.measure)
    after = Snapshot.take(pids, cluster)
    summaries = collect(workers, results)
    moves = sum(s["moves"] for s in summaries)
    errors: dict[str, int] = {}
    for s in summaries:
        for code, count in s["errors"].items():
            errors[code] = errors.get(code, 0) + count
    phase = Phase(
        config=cluster.name,
        name=name,
        moves_per_s=moves / args.measure,
        ack_ms=[x for s in summaries for x in s["ack_ms"]],
        delivery_ms=[x for s in summaries for x in s["delivery_ms"]],
        cpu_ms_per_move={
            t: (after.cpu[t] - before.cpu[t]) / moves * 1000 if moves else float("nan")
            for t in TIERS
        },
        rss_mib={t: after.rss[t] / 2**20 for t in TIERS},
        per_move={
            **{
                c: (after.counters[c] - before.counters[c]) / moves if moves else float("nan")
                for c in COUNTERS
            },
            "event_bytes": after.counters["event_bytes"],
        },
        games=sum(s["games"] for s in summaries),
        errors=errors,
    )
    h.progress(f"{cluster.name} {name}: {phase.moves_per_s:.0f} moves/s")
    return phase


# ----------------------------------------------------------------------- failover


@dataclass
class Kill:
    """One SIGKILL of an engine and what its games saw."""

    engine: str
    shards: int
    kill_wall_ms: int
    kill_mono: float
    recovery_s: list[float] = field(default_factory=list)
    from_store: int = 0  # samples timed by the store's commit (no ack seen)
    stalled: int = 0  # games with no move after the kill before the load ended
    takeover_s: float = float("nan")  # kill -> every shard it held has another holder


def lease_holders(redis_url: str) -> list[str | None]:
    """The holder of each shard's lease now."""
    import redis as redis_sync

    from meeple.protocol.internal import SHARDS, shard_lease

    client = redis_sync.Redis.from_url(redis_url)
    try:
        values = client.mget([shard_lease(s) for s in range(SHARDS)])
    finally:
        client.close()
    return [v.decode() if v is not None else None for v in values]


async def _events_since(database_url: str, since_ms: int) -> list[tuple[str, int, str, int]]:
    import asyncpg

    dsn = database_url.replace("postgresql+asyncpg://", "postgresql://")
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch(
            "SELECT game_id, seq, kind, ts_ms FROM game_events WHERE ts_ms >= $1 "
            "ORDER BY game_id, seq",
            since_ms,
        )
    finally:
        await conn.close()
    return [(r["game_id"], r["seq"], r["kind"], r["ts_ms"]) for r in rows]


def watch_takeover(
    redis_url: str, holders: list[str | None], victim: str, until_mono: float
) -> float:
    """Seconds from now (the kill) until every shard ``victim`` held has a new holder
    (polled every 20 ms until ``until_mono``; NaN if not by then)."""
    start = time.monotonic()
    mine = [s for s, holder in enumerate(holders) if holder == victim]
    while time.monotonic() < until_mono:
        now = lease_holders(redis_url)
        if all(now[s] not in (None, victim) for s in mine):
            return time.monotonic() - start
        time.sleep(0.02)
    return float("nan")


def wait_in_play(database_url: str, games: int, since_ms: int, timeout: float = 60.0) -> None:
    """Until ``games`` games have had a move committed in the last two seconds, and
    after ``since_ms`` (not the games of the phase before, which are being resigned)."""

    def enough() -> bool:
        since = max(since_ms, time.time_ns() // 1_000_000 - 2000)
        events = h.run_async(_events_since(database_url, since))
        assert isinstance(events, list)
        return len({e[0] for e in events if e[2] == "move"}) >= games

    h.wait_for(enough, timeout, f"{games} games in play")


def score_kills(
    kills: list[Kill],
    holders_at: list[list[str | None]],
    database_url: str,
    accepted: list[tuple[str, int, float]],
) -> None:
    """Fill each kill's recovery times from the store's log and the clients' acks."""
    from meeple.protocol.internal import shard_of

    if not kills:
        return
    lookback_ms = 5000
    events = h.run_async(_events_since(database_url, kills[0].kill_wall_ms - lookback_ms))
    assert isinstance(events, list)
    by_game: dict[str, list[tuple[int, str, int]]] = {}
    for game_id, seq, kind, ts in events:
        by_game.setdefault(game_id, []).append((seq, kind, ts))
    acks: dict[str, list[tuple[int, float]]] = {}
    for game_id, seq, t in accepted:
        acks.setdefault(game_id, []).append((seq, t))
    for kill, holders in zip(kills, holders_at, strict=True):
        owned = {s for s, holder in enumerate(holders) if holder == kill.engine}
        for game_id, log in by_game.items():
            if shard_of(game_id) not in owned:
                continue
            before = [e for e in log if kill.kill_wall_ms - lookback_ms <= e[2] < kill.kill_wall_ms]
            if not before or any(k in ("game_over", "aborted") for _, k, _ in before):
                continue  # not in play at the kill
            after = [e for e in log if e[2] >= kill.kill_wall_ms and e[1] == "move"]
            if not after:
                ended = any(
                    e[2] >= kill.kill_wall_ms and e[1] in ("resign", "game_over") for e in log
                )
                kill.stalled += 0 if ended else 1
                continue
            seq, _, ts = after[0]
            seen = [t for s, t in acks.get(game_id, []) if s >= seq and t > kill.kill_mono]
            if seen:
                kill.recovery_s.append(min(seen) - kill.kill_mono)
            else:
                kill.recovery_s.append((ts - kill.kill_wall_ms) / 1000)
                kill.from_store += 1


def busiest_engine(
    cluster: Cluster, holders: list[str | None], database_url: str
) -> tuple[Role, str]:
    """The running engine that owns the most games in play (moves in the last 2 s)."""
    from meeple.protocol.internal import shard_of

    events = h.run_async(_events_since(database_url, time.time_ns() // 1_000_000 - 2000))
    assert isinstance(events, list)
    playing = {e[0] for e in events if e[2] == "move"}
    engines = {str(e.readiness()["engine"]): e for e in cluster.engs if e.running}
    games = dict.fromkeys(engines, 0)
    for game_id in playing:
        holder = holders[shard_of(game_id)]
        if holder in games:
            games[holder] += 1
    engine_id = max(games, key=lambda e: games[e])
    return engines[engine_id], engine_id


def failover(
    cluster: Cluster, args: argparse.Namespace, tokens: list[str], pace_s: float
) -> list[Kill]:
    """Kill an engine ``args.kills`` times under paced load; score each kill."""
    cycle = args.kill_cycle
    # Room for the games to get going (wait_in_play) and for the last kill's takeover.
    measure = args.kills * cycle + (6.0 if args.quick else 15.0)
    h.progress(
        f"failover: {args.kills} SIGKILLs of an engine, one per {cycle:g} s, "
        f"{args.rooms} paced rooms"
    )
    begun_ms = time.time_ns() // 1_000_000
    workers, results = start_workers(
        args,
        cluster.ws_urls(),
        tokens,
        rooms=args.rooms,
        pace_s=pace_s,
        think_ms=0,
        warmup_s=0.0,
        measure_s=measure,
    )
    database_url = cluster.postgres.url(cluster.env["MEEPLE_DB_NAME"])
    kills: list[Kill] = []
    holders_at: list[list[str | None]] = []
    try:
        wait_in_play(database_url, max(1, args.rooms // 2), begun_ms)
        started = time.monotonic()
        for k in range(args.kills):
            slot = started + k * cycle
            time.sleep(max(0.0, slot - time.monotonic()))
            cluster.wait_balanced()
            holders = lease_holders(cluster.redis.url)
            victim, engine_id = busiest_engine(cluster, holders, database_url)
            kill = Kill(
                engine=engine_id,
                shards=sum(1 for x in holders if x == engine_id),
                kill_wall_ms=time.time_ns() // 1_000_000,
                kill_mono=time.monotonic(),
            )
            victim.kill()
            kills.append(kill)
            holders_at.append(holders)
            h.progress(f"failover: kill {k + 1}: SIGKILL {victim.name} ({kill.shards} shards)")
            # Let the survivors take over before the victim comes back to compete.
            restart_at = kill.kill_mono + min(args.restart_after, cycle / 2)
            kill.takeover_s = watch_takeover(cluster.redis.url, holders, engine_id, restart_at)
            time.sleep(max(0.0, restart_at - time.monotonic()))
            victim.start()
    finally:
        summaries = collect(workers, results)
    accepted = [a for s in summaries for a in s["accepted"]]
    score_kills(kills, holders_at, database_url, accepted)
    for k, kill in enumerate(kills, 1):
        rec = kill.recovery_s
        h.progress(
            f"failover: kill {k}: {len(rec)} games, max {max(rec, default=float('nan')):.2f} s"
        )
    return kills


# ----------------------------------------------------------------------- the run


@contextlib.contextmanager
def servers(root: Path) -> Iterator[tuple[PostgresServer, RedisServer]]:
    """PostgreSQL (fsync and synchronous_commit on) and Redis, stopped afterwards."""
    pg = PostgresServer(root / "pg")
    (root / "redis").mkdir(parents=True)
    redis = RedisServer(root / "redis")
    try:
        pg.init()
        pg.start()
        redis.start()
        yield pg, redis
    finally:
        redis.stop()
        pg.stop()


def run_config(
    args: argparse.Namespace,
    root: Path,
    pg: PostgresServer,
    redis: RedisServer,
    gateways: int,
    engines: int,
    *,
    with_failover: bool,
) -> tuple[list[Phase], list[Kill]]:
    """Start one configuration on a fresh database, load it, stop it."""
    database = h.run_async(pg.fresh_database())
    assert isinstance(database, str)
    subprocess_flush(redis)
    env = {
        **os.environ,
        **h.BENCH_ENV,
        "MEEPLE_DATABASE_URL": pg.url(database),
        "MEEPLE_DB_NAME": database,  # ours, not meeple's: scoring reads the store
        "MEEPLE_REDIS_URL": redis.url,
        "MEEPLE_SIGNING_KEY": "bench-cluster-signing-key-0123456789abcdef",
        **dict(pair.split("=", 1) for pair in args.set),
    }
    cluster = Cluster(root / f"{gateways}+{engines}", env, pg, redis, gateways, engines)
    h.progress(f"{cluster.name}: starting api, {gateways} gateway(s), {engines} engine(s)")
    phases: list[Phase] = []
    kills: list[Kill] = []
    try:
        cluster.start()
        tokens = h.run_async(single._accounts(cluster.api.url, args.rooms * _load.SEATS))
        assert isinstance(tokens, list)
        phases.append(run_phase(cluster, args, tokens, "max"))
        pace_s = args.rooms / args.paced_rate
        if not args.quick:
            phases.append(run_phase(cluster, args, tokens, "paced", pace_s=pace_s))
        if with_failover and args.kills:
            kills = failover(cluster, args, tokens, pace_s)
    except BaseException:
        for role in cluster.roles:
            sys.stderr.write(f"== {role.name}\n{role.log_text()[-2000:]}\n")
        raise
    finally:
        cluster.stop()
    return phases, kills


def subprocess_flush(redis: RedisServer) -> None:
    """Empty Redis between configurations (queues, leases of the previous one)."""
    import redis as redis_sync

    client = redis_sync.Redis.from_url(redis.url)
    try:
        client.flushall()
    finally:
        client.close()


def report(args: argparse.Namespace, phases: list[Phase], kills: list[Kill]) -> None:
    """The figures on standard output."""
    p = h.percentile
    print(
        f"# {args.rooms} rooms of {_load.SEATS} (fourchess 10+5), {args.workers} client "
        f"processes, {args.measure:g} s measured after {args.warmup:g} s; paced = "
        f"{args.paced_rate:g} moves/s; {os.cpu_count()} CPUs; PostgreSQL fsync on"
    )
    print(
        f"{'config':<10} {'moves/s':>8} {'ack p50':>8} {'ack p99':>8} {'dlv p99':>8} "
        f"{'games':>6}  errors"
    )
    for ph in phases:
        print(
            f"{ph.label:<10} {ph.moves_per_s:>8.0f} {p(ph.ack_ms, 0.5):>8.1f} "
            f"{p(ph.ack_ms, 0.99):>8.1f} {p(ph.delivery_ms, 0.99):>8.1f} {ph.games:>6}  "
            f"{ph.errors or '-'}"
        )
    print("# CPU ms per move by tier (user+system, all processes of the tier)")
    print(f"{'config':<10} " + " ".join(f"{t:>9}" for t in TIERS) + f" {'total':>9}")
    for ph in phases:
        cpu = ph.cpu_ms_per_move
        print(
            f"{ph.label:<10} "
            + " ".join(f"{cpu[t]:>9.3f}" for t in TIERS)
            + f" {sum(cpu.values()):>9.3f}"
        )
    print("# RSS MiB by tier at the end of the phase")
    print(f"{'config':<10} " + " ".join(f"{t:>9}" for t in TIERS))
    for ph in phases:
        print(f"{ph.label:<10} " + " ".join(f"{ph.rss_mib[t]:>9.1f}" for t in TIERS))
    print(
        "# per move: PostgreSQL commits, WAL bytes, database growth bytes; Redis commands; "
        "mean stored move event (bytes)"
    )
    columns = (*COUNTERS, "event_bytes")
    print(f"{'config':<10} " + " ".join(f"{c:>11}" for c in columns))
    for ph in phases:
        print(f"{ph.label:<10} " + " ".join(f"{ph.per_move[c]:>11.2f}" for c in columns))
    if kills:
        print(
            "# failover: SIGKILL of an engine -> its shard leases all taken (lease) and the "
            "next accepted move of each game it owned (s)"
        )
        print(
            f"{'kill':<6} {'shards':>6} {'lease':>6} {'games':>6} {'p50':>7} {'p99':>7} "
            f"{'max':>7} {'store':>6} {'stalled':>7}"
        )
        for i, kill in enumerate(kills, 1):
            r = kill.recovery_s
            print(
                f"{i:<6} {kill.shards:>6} {kill.takeover_s:>6.2f} {len(r):>6} "
                f"{p(r, 0.5):>7.2f} {p(r, 0.99):>7.2f} {max(r, default=float('nan')):>7.2f} "
                f"{kill.from_store:>6} {kill.stalled:>7}"
            )
        every = [x for k in kills for x in k.recovery_s]
        p99 = p(every, 0.99)
        verdict = "PASS" if every and p99 < GOAL_FAILOVER_P99_S else "FAIL"
        print(
            f"failover: {len(kills)} kills, {len(every)} games, p50 {p(every, 0.5):.2f} s, "
            f"p99 {p99:.2f} s, max {max(every, default=float('nan')):.2f} s, "
            f"stalled {sum(k.stalled for k in kills)} "
            f"(goal p99 < {GOAL_FAILOVER_P99_S:g} s) {verdict}"
        )


def plot(phases: list[Phase], kills: list[Kill], path: Path) -> None:
    """Moves/s and ack p99 per configuration and phase; failover times per kill."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(15, 4.5))
    labels = [ph.label for ph in phases]
    axes[0].bar(labels, [ph.moves_per_s for ph in phases], color="tab:blue")
    axes[0].set_title("moves/s")
    axes[1].bar(labels, [h.percentile(ph.ack_ms, 0.99) for ph in phases], color="tab:orange")
    axes[1].set_title("ack p99 (ms)")
    for ax in axes[:2]:
        ax.tick_params(axis="x", rotation=30)
        ax.grid(True, axis="y", alpha=0.3)
    for i, kill in enumerate(kills, 1):
        axes[2].scatter([i] * len(kill.recovery_s), kill.recovery_s, s=12, alpha=0.6)
    axes[2].axhline(GOAL_FAILOVER_P99_S, color="red", linestyle="--", label="goal p99")
    axes[2].set_title("SIGKILL -> next accepted move (s)")
    axes[2].set_xlabel("kill")
    axes[2].grid(True, alpha=0.3)
    axes[2].legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def parse_config(text: str) -> tuple[int, int]:
    gateways, engines = text.split("+")
    return int(gateways), int(engines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--configs", default="1+1,2+2", help="gateways+engines, comma-separated (1+1,2+2)"
    )
    parser.add_argument("--rooms", type=int, default=16, help="rooms of four (default 16)")
    parser.add_argument("--workers", type=int, default=2, help="client processes (default 2)")
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds before measuring")
    parser.add_argument("--measure", type=float, default=10.0, help="seconds measured per phase")
    parser.add_argument(
        "--paced-rate", type=float, default=100.0, help="total moves/s of the paced phases"
    )
    parser.add_argument("--kills", type=int, default=5, help="engine SIGKILLs (default 5)")
    parser.add_argument("--kill-cycle", type=float, default=12.0, help="seconds between kills")
    parser.add_argument(
        "--restart-after", type=float, default=5.0, help="seconds before a killed engine restarts"
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="MEEPLE_NAME=VALUE",
        help="a setting for every role process (repeatable), e.g. MEEPLE_LEASE_TTL_MS=1000",
    )
    parser.add_argument("--plot", type=Path, default=Path("artifacts/cluster.png"), help="PNG")
    parser.add_argument("--quick", action="store_true", help="a short run (smoke test)")
    parser.add_argument(
        "--keep", action="store_true", help="keep the processes' logs (the temp dir) afterwards"
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.rooms, args.workers, args.warmup, args.measure = 4, 1, 0.5, 2.0
        args.kills, args.kill_cycle, args.restart_after = 1, 6.0, 2.5
        args.paced_rate = 20.0
    args.rooms = max(args.workers, args.rooms - args.rooms % args.workers)
    configs = [parse_config(c) for c in args.configs.split(",")]
    h.raise_open_files()
    root = Path(tempfile.mkdtemp(prefix="meeple-cluster-bench-"))
    root.chmod(0o755)  # PostgreSQL runs as its own user when we are root
    phases: list[Phase] = []
    kills: list[Kill] = []
    try:
        with servers(root) as (pg, redis):
            h.progress(f"PostgreSQL on :{pg.port}, Redis on :{redis.port}")
            for i, (gateways, engines) in enumerate(configs):
                last = i == len(configs) - 1
                got, killed = run_config(
                    args, root, pg, redis, gateways, engines, with_failover=last and engines > 1
                )
                phases += got
                kills += killed
    finally:
        if args.keep:
            h.progress(f"logs kept in {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    report(args, phases, kills)
    plot(phases, kills, args.plot)
    print(f"plot: {args.plot}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
