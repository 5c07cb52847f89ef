"""One settings object for every role, read from ``MEEPLE_*`` environment variables.

Every field's default is the embedded one-process setup (`meeple serve` on a laptop):
SQLite in the data dir and the in-memory bus. docs/operations.md lists them all;
``meeple <role> --help`` shows the command-line overrides.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Configuration of a meeple process. Environment: ``MEEPLE_<FIELD>`` (upper case)."""

    model_config = SettingsConfigDict(env_prefix="MEEPLE_", extra="ignore", frozen=True)

    # -- where things live ---------------------------------------------------
    data_dir: Path = Field(
        Path("data"), description="Directory for the SQLite store and the generated signing key."
    )
    database_url: str | None = Field(
        None,
        description="SQLAlchemy async URL of the store, e.g. postgresql+asyncpg://u@h/db. "
        "Default: sqlite+aiosqlite:///<data_dir>/meeple.sqlite3.",
    )
    redis_url: str | None = Field(
        None, description="Redis URL of the bus, e.g. redis://h:6379/0. Default: in-memory bus."
    )

    # -- listening -------------------------------------------------------------
    host: str = Field("127.0.0.1", description="Address to listen on.")
    port: int = Field(8000, description="TCP port to listen on.")

    # -- auth ------------------------------------------------------------------
    signing_key: str | None = Field(
        None,
        description="Secret that signs access tokens (HS256). Default: generated once and "
        "kept in <data_dir>/signing.key. Every api and gateway process must share it.",
    )
    signing_keys_previous: str = Field(
        "",
        description="Comma-separated former signing keys that still verify access tokens "
        "but never sign: a rotation's overlap window. Keep the old key here for at least "
        "access_token_ttl_s after the new one is in MEEPLE_SIGNING_KEY, on every api and "
        "gateway process, then drop it.",
    )
    access_token_ttl_s: int = Field(900, description="Lifetime of an access token, seconds.")
    refresh_token_ttl_s: int = Field(
        30 * 24 * 3600, description="Lifetime of a refresh token, seconds."
    )
    login_max_failures: int = Field(
        5, description="Failed logins per account (and per client address x10) per window."
    )
    login_window_s: int = Field(300, description="Login throttling window, seconds.")
    password_hash_time_cost: int = Field(3, description="argon2id passes per password hash.")
    password_hash_memory_kib: int = Field(
        65536, description="argon2id memory per password hash, KiB (64 MiB)."
    )
    api_rate_limit_per_s: float = Field(
        20.0, description="Requests per second per client address, per api process (0: off)."
    )
    api_rate_limit_burst: int = Field(
        100, description="Requests a client address may send at once before the rate applies."
    )

    # -- money -----------------------------------------------------------------
    currency: str = Field("USD", description="The one currency of the ledger (ISO 4217).")
    rake_bps: int = Field(500, description="House rake on a settled pot, basis points (500 = 5%).")
    payout_fourchess: str = Field(
        "70,30,0,0", description="Share of the pot after rake by placing, percent, 4 seats."
    )
    payout_chess: str = Field("100,0", description="Share of the pot after rake, 2 seats.")

    # -- gateway (WebSocket edge) ----------------------------------------------
    ws_max_frame_bytes: int = Field(
        16384, description="Largest client frame; a bigger one gets frame_too_large and 1009."
    )
    ws_rate_per_s: float = Field(10.0, description="Client frames per second per connection.")
    ws_rate_burst: int = Field(20, description="Frames a connection may send at once.")
    ws_flood_close_after: int = Field(
        50, description="Rate-limited frames in a row after which the connection is closed (1008)."
    )
    ws_max_per_address: int = Field(
        50, description="Open WebSocket connections per client address, per gateway process."
    )
    ws_send_buffer_frames: int = Field(
        2048, description="Frames queued for one client before it is closed as a slow consumer."
    )
    ws_send_buffer_bytes: int = Field(
        1 << 20,
        description="Bytes the lean WebSocket transport buffers for one client before it is "
        "closed as a slow consumer (4008).",
    )
    ws_ping_interval_s: float = Field(
        20.0, description="Seconds between WebSocket protocol pings from the server."
    )
    ws_idle_timeout_s: float = Field(
        120.0, description="Close a connection that sent no frame for this long (clients ping)."
    )
    command_timeout_s: float = Field(
        5.0, description="How long the gateway waits for an engine's reply before `timeout`."
    )
    resume_limit: int = Field(
        500, description="Events a resume replays from the store; further behind: a full state."
    )
    drain_timeout_s: float = Field(
        5.0, description="On shutdown, how long the gateway waits for commands in flight."
    )

    # -- engine and matchmaking ------------------------------------------------
    time_controls: str = Field(
        "1+0,3+2,5+0,10+5",
        description="Time controls offered by the matchmaker, minutes+increment seconds.",
    )
    stakes: str = Field(
        "0,100,500,1000,5000",
        description="Stakes offered (minor units per seat); 0 is a free game.",
    )
    max_stake: int = Field(100_000, description="Largest stake of a private game, minor units.")
    clock_minute_ms: int = Field(
        60_000,
        description="How long a time control's minute lasts, ms (increments scale alike). "
        "Only tests and demos change it: 1000 makes a 1+0 game last a second per seat.",
    )
    first_move_timeout_s: float = Field(
        30.0, description="A seat's first move not made in this time aborts the game (refund)."
    )
    disconnect_grace_s: float = Field(
        60.0, description="A seated player offline this long forfeits (never beyond the flag)."
    )
    engine_batch_max: int = Field(
        256, description="Commands an engine takes from its queues for one store commit."
    )
    engine_batch_wait_ms: int = Field(
        0,
        description="How long an engine lets a batch fill after its first command. 0: "
        "none; commands that arrive during a commit make the next batch (group commit).",
    )
    gc_gen0_threshold: int = Field(
        10_000,
        ge=0,
        description="After start-up a server freezes its heap (gc.freeze) and runs the "
        "garbage collector's young pass every this many allocations (Python's default: "
        "700). 0: leave the collector as Python sets it.",
    )
    engine_pipeline_depth: int = Field(
        2,
        ge=1,
        le=8,
        description="Batches an engine may have in flight at once: it decides the next "
        "batch (of other games) while the previous commit is on its way to disk. 1: one "
        "batch at a time.",
    )
    lease_ttl_ms: int = Field(
        2_000,
        description="Engine and shard lease lifetime; renewed every third of it. A killed "
        "engine's games are taken over within it (plus one poll and the reload).",
    )
    lease_poll_ms: int = Field(
        250, description="How often an engine looks for free shards and rebalances its share."
    )
    snapshot_every: int = Field(
        200, description="Events between snapshots of a game's state (0: never; replay all)."
    )
    match_tick_ms: int = Field(200, description="How often the matchmaker tries to group players.")
    match_window: int = Field(
        100, description="Rating difference accepted at once between players matched together."
    )
    match_window_growth_per_s: float = Field(
        20.0, description="How much the accepted rating difference grows per second of waiting."
    )

    # -- logging and tracing ---------------------------------------------------
    log_level: str = Field("INFO", description="Python logging level.")
    log_json: bool = Field(True, description="JSON log lines (false: plain text).")
    otel_endpoint: str | None = Field(
        None,
        description="OTLP/HTTP collector that receives traces, e.g. http://otel-collector:4318 "
        "(spans are posted to <url>/v1/traces unless the URL has a path). Unset: no tracing.",
    )
    otel_sample_ratio: float = Field(
        0.1,
        ge=0.0,
        le=1.0,
        description="Share of new traces recorded (1.0: all). A trace begun upstream "
        "(traceparent) keeps its caller's decision.",
    )
    otel_service_prefix: str = Field(
        "meeple",
        description="Traces' service.name is <prefix>-<role> (api, gateway, engine, serve).",
    )

    @cached_property
    def effective_database_url(self) -> str:
        """The store URL, defaulting to the SQLite file in the data dir."""
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'meeple.sqlite3').resolve()}"


def load(**overrides: object) -> Settings:
    """Settings from the environment, with explicit overrides (e.g. from flags)."""
    return Settings(**{k: v for k, v in overrides.items() if v is not None})  # type: ignore[arg-type]
