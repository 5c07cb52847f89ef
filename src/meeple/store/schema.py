"""The store's tables, for the whole of DESIGN.md (SQLAlchemy Core).

One schema for both adapters (SQLite and PostgreSQL); Alembic migrations in
``meeple/store/migrations`` create and evolve it. Conventions:

- ids of people and money are integers; games have text ids (random, URL-safe);
- money is ``BigInteger`` minor units of the configured currency, never floats;
- ``*_at`` columns are timezone-aware timestamps; ``*_ms`` columns are integer
  milliseconds since the epoch (server clocks, where arithmetic matters);
- constraints that protect money and order live in the database, not only in code.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
)

# Named constraints, so that migrations can refer to them on every backend.
metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# SQLite only auto-increments an INTEGER PRIMARY KEY.
Id = BigInteger().with_variant(Integer(), "sqlite")
Money = BigInteger
Stamp = DateTime(timezone=True)

# --------------------------------------------------------------------------- accounts

players = Table(
    "players",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("username", String(32), nullable=False),
    # Lower-cased username: uniqueness is case-insensitive on every backend.
    Column("username_key", String(32), nullable=False, unique=True),
    Column("display_name", String(64), nullable=False),
    Column("email", String(254), nullable=True),
    Column("password_hash", Text, nullable=False),
    Column("role", String(16), nullable=False, server_default="player"),
    Column("is_bot", Boolean, nullable=False, server_default="0"),
    Column("created_at", Stamp, nullable=False),
    Column("updated_at", Stamp, nullable=False),
    CheckConstraint("role in ('player', 'operator')", name="role"),
)

# A login starts a session family; each refresh rotates to a new token in the family.
# Reusing a retired token revokes the whole family (theft detection).
session_families = Table(
    "session_families",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("player_id", Id, ForeignKey("players.id"), nullable=False, index=True),
    Column("created_at", Stamp, nullable=False),
    Column("revoked_at", Stamp, nullable=True),
    Column("revoked_reason", String(32), nullable=True),
    Column("client_address", String(64), nullable=True),
    Column("user_agent", String(256), nullable=True),
)

refresh_tokens = Table(
    "refresh_tokens",
    metadata,
    # SHA-256 of the token: the token itself is never stored.
    Column("token_hash", String(64), primary_key=True),
    Column("family_id", String(36), ForeignKey("session_families.id"), nullable=False),
    Column("player_id", Id, ForeignKey("players.id"), nullable=False),
    Column("issued_at", Stamp, nullable=False),
    Column("expires_at", Stamp, nullable=False),
    Column("retired_at", Stamp, nullable=True),  # set when rotated (used once)
    Index("ix_refresh_tokens_family", "family_id"),
)

# Shared counters for login throttling, so that every api replica sees them.
throttle = Table(
    "throttle",
    metadata,
    Column("key", String(128), primary_key=True),  # e.g. "login:user:alice", "login:ip:1.2.3.4"
    Column("count", Integer, nullable=False),
    Column("window_start_ms", BigInteger, nullable=False),
)

# Idempotency of HTTP requests that move money (Idempotency-Key header).
idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("scope", String(64), nullable=False),  # e.g. "operator:deposit"
    Column("key", String(128), nullable=False),
    Column("request_hash", String(64), nullable=False),
    Column("status_code", Integer, nullable=False),
    Column("response", JSON, nullable=False),
    Column("created_at", Stamp, nullable=False),
    PrimaryKeyConstraint("scope", "key"),
)

# ----------------------------------------------------------------------------- ledger

ledger_accounts = Table(
    "ledger_accounts",
    metadata,
    # "player:<id>", "escrow:<game_id>", "house", "deposits"
    Column("id", String(64), primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("player_id", Id, ForeignKey("players.id"), nullable=True, unique=True),
    Column("game_id", String(32), nullable=True),
    Column("currency", String(3), nullable=False),
    Column("balance", Money, nullable=False, server_default="0"),
    Column("created_at", Stamp, nullable=False),
    CheckConstraint("kind in ('player', 'escrow', 'house', 'deposits')", name="kind"),
    # A player's wallet and a game's escrow can never go below zero.
    CheckConstraint("kind not in ('player', 'escrow') or balance >= 0", name="not_negative"),
)

ledger_transfers = Table(
    "ledger_transfers",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("idempotency_key", String(160), nullable=False, unique=True),
    # deposit, withdrawal, adjustment, escrow, settlement, refund
    Column("kind", String(16), nullable=False),
    Column("game_id", String(32), nullable=True, index=True),
    Column("memo", Text, nullable=True),
    Column("request_hash", String(64), nullable=True),
    Column("created_at", Stamp, nullable=False),
)

# The legs of a transfer; their amounts sum to zero per transfer (checked on write
# and by `meeple ledger check`). Positive credits the account, negative debits it.
ledger_entries = Table(
    "ledger_entries",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("transfer_id", Id, ForeignKey("ledger_transfers.id"), nullable=False, index=True),
    Column("account_id", String(64), ForeignKey("ledger_accounts.id"), nullable=False),
    Column("amount", Money, nullable=False),
    Column("balance_after", Money, nullable=False),
    # The game seat a leg belongs to (escrow, settlement and refund legs of players):
    # settle and refund read the stakes back from the escrow's legs.
    Column("seat", Integer, nullable=True),
    CheckConstraint("amount <> 0", name="nonzero"),
    Index("ix_ledger_entries_account", "account_id", "id"),
)

# ------------------------------------------------------------------------------ games

games = Table(
    "games",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("game", String(32), nullable=False),  # rules registry name
    Column("options", JSON, nullable=False),
    Column("seats", Integer, nullable=False),
    Column("base_ms", BigInteger, nullable=False),  # clock: base time per seat
    Column("increment_ms", BigInteger, nullable=False),
    Column("stake", Money, nullable=False, server_default="0"),
    Column("currency", String(3), nullable=False),
    # pending -> active -> finished | aborted
    Column("status", String(16), nullable=False),
    Column("invite_code", String(16), nullable=True, unique=True),
    Column("last_seq", BigInteger, nullable=False, server_default="0"),
    Column("result", JSON, nullable=True),
    Column("settled", Boolean, nullable=False, server_default="0"),
    Column("created_at", Stamp, nullable=False),
    Column("started_at", Stamp, nullable=True),
    Column("ended_at", Stamp, nullable=True),
    CheckConstraint("status in ('pending', 'active', 'finished', 'aborted')", name="status"),
    CheckConstraint("stake >= 0", name="stake"),
    # The public list of games: WHERE status = ? ORDER BY started_at DESC, id DESC
    # (api/history.py), read backwards off the index; also every lookup by status.
    Index("ix_games_status_started", "status", "started_at", "id"),
)

game_seats = Table(
    "game_seats",
    metadata,
    Column("game_id", String(32), ForeignKey("games.id"), nullable=False),
    Column("seat", Integer, nullable=False),
    Column("player_id", Id, ForeignKey("players.id"), nullable=False),
    Column("rating_before", Integer, nullable=True),
    Column("rating_after", Integer, nullable=True),
    Column("placing", Integer, nullable=True),
    Column("points", Integer, nullable=True),
    Column("payout", Money, nullable=True),
    PrimaryKeyConstraint("game_id", "seat"),
    Index("ix_game_seats_player", "player_id", "game_id"),
)

# The state of record of every game: an ordered log, contiguous from seq 1.
# The primary key (game_id, seq) makes a second writer of the same seq fail:
# appends carry the expected next seq (optimistic concurrency, DESIGN.md inv. 2).
game_events = Table(
    "game_events",
    metadata,
    Column("game_id", String(32), ForeignKey("games.id"), nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("kind", String(32), nullable=False),
    Column("seat", Integer, nullable=True),
    Column("body", LargeBinary, nullable=False),  # the encoded event, as fanned out
    Column("ts_ms", BigInteger, nullable=False),  # server time of commit
    PrimaryKeyConstraint("game_id", "seq"),
    CheckConstraint("seq >= 1", name="seq_positive"),
)

# At most once per command (DESIGN.md inv. 3): the first outcome of a client command id.
game_commands = Table(
    "game_commands",
    metadata,
    Column("game_id", String(32), ForeignKey("games.id"), nullable=False),
    Column("player_id", Id, ForeignKey("players.id"), nullable=False),
    Column("command_id", String(64), nullable=False),
    Column("first_seq", BigInteger, nullable=True),  # events it caused, if accepted
    Column("last_seq", BigInteger, nullable=True),
    Column("outcome", JSON, nullable=False),  # the ack or the error, as first sent
    Column("created_at", Stamp, nullable=False),
    PrimaryKeyConstraint("game_id", "player_id", "command_id"),
)

# Snapshots shorten replay: the game state (rules.encode) and clocks after seq.
game_snapshots = Table(
    "game_snapshots",
    metadata,
    Column("game_id", String(32), ForeignKey("games.id"), nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("state", LargeBinary, nullable=False),
    Column("clocks", JSON, nullable=False),
    Column("created_at", Stamp, nullable=False),
    PrimaryKeyConstraint("game_id", "seq"),
)

ratings = Table(
    "ratings",
    metadata,
    Column("player_id", Id, ForeignKey("players.id"), nullable=False),
    Column("game", String(32), nullable=False),
    Column("mu", Float, nullable=False),  # rating model (openskill); floats: not money
    Column("sigma", Float, nullable=False),
    Column("rating", Integer, nullable=False),  # displayed, e.g. round((mu - 3 sigma) * 40)
    Column("games_played", Integer, nullable=False, server_default="0"),
    Column("wins", Integer, nullable=False, server_default="0"),
    Column("updated_at", Stamp, nullable=False),
    PrimaryKeyConstraint("player_id", "game"),
)

# Players waiting for a match: durable, so that a matchmaker restart loses nobody.
queue_entries = Table(
    "queue_entries",
    metadata,
    Column("player_id", Id, ForeignKey("players.id"), primary_key=True),
    Column("game", String(32), nullable=False),
    Column("base_ms", BigInteger, nullable=False),
    Column("increment_ms", BigInteger, nullable=False),
    Column("stake", Money, nullable=False),
    Column("rating", Integer, nullable=False),
    Column("enqueued_ms", BigInteger, nullable=False),
    Index("ix_queue_entries_queue", "game", "base_ms", "increment_ms", "stake"),
)
