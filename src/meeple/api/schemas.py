"""The JSON bodies of the api (pydantic models; the OpenAPI document is built from them)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from meeple.auth.policy import PASSWORD_MAX, PASSWORD_MIN, USERNAME_MAX, USERNAME_MIN

USERNAME_PATTERN = r"^[A-Za-z0-9_-]+$"


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


# ------------------------------------------------------------------------------ auth


class RegisterRequest(_Request):
    """A new account."""

    username: str = Field(
        min_length=USERNAME_MIN,
        max_length=USERNAME_MAX,
        pattern=USERNAME_PATTERN,
        description="Letters, digits, '_' and '-'; unique regardless of case.",
    )
    password: str = Field(
        min_length=PASSWORD_MIN,
        max_length=PASSWORD_MAX,
        description="At least two of: lower case, upper case, digits, other characters; "
        "not the username.",
    )
    email: str | None = Field(
        None, max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$", description="Optional."
    )


class LoginRequest(_Request):
    """Credentials."""

    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)


class RefreshRequest(_Request):
    """A refresh token to rotate."""

    refresh_token: str = Field(min_length=1, max_length=256)


class LogoutRequest(_Request):
    """The refresh token of the session to end (optional with a bearer access token)."""

    refresh_token: str | None = Field(None, min_length=1, max_length=256)


class TokenPair(BaseModel):
    """An access token (bearer, short-lived) and the refresh token that renews it."""

    access_token: str
    refresh_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int = Field(description="Seconds until the access token expires.")
    refresh_expires_in: int = Field(description="Seconds until the refresh token expires.")


# ----------------------------------------------------------------------------- players


class Me(BaseModel):
    """The authenticated player's own account."""

    id: int
    username: str
    display_name: str
    email: str | None
    role: Literal["player", "operator"]
    created_at: datetime


class MeUpdate(_Request):
    """Changes to one's own account."""

    display_name: str = Field(
        min_length=1,
        max_length=64,
        pattern=r"^[^\x00-\x1f\x7f]*\S[^\x00-\x1f\x7f]*$",
        description="1-64 printable characters, not only spaces.",
    )


class GameStats(BaseModel):
    """A player's standing in one game (rules name, e.g. ``fourchess``)."""

    game: str
    rating: int | None = Field(description="Displayed rating; null before any rated game.")
    games_played: int
    wins: int


class PublicProfile(BaseModel):
    """What anyone may see of a player."""

    username: str
    display_name: str
    is_bot: bool
    created_at: datetime
    stats: list[GameStats]


# ------------------------------------------------------------------------------- games


class Seat(BaseModel):
    """A seat of a game and who sat in it."""

    seat: int
    username: str
    display_name: str
    placing: int | None
    points: int | None
    payout: int | None = Field(description="Minor units won at settlement, if settled.")
    rating_before: int | None
    rating_after: int | None


class GameSummary(BaseModel):
    """A game as listed in a player's history."""

    id: str
    game: str
    status: Literal["pending", "active", "finished", "aborted"]
    stake: int = Field(description="Stake per seat, minor units of `currency`.")
    currency: str
    base_ms: int
    increment_ms: int
    created_at: datetime
    started_at: datetime | None
    ended_at: datetime | None
    result: dict[str, Any] | None
    seats: list[Seat]


class GamePage(BaseModel):
    """One page of a game history, newest first."""

    items: list[GameSummary]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page.")


class ListedGame(BaseModel):
    """A game as the public list of active or finished games shows it."""

    id: str
    game: str
    status: Literal["active", "finished"]
    private: bool = Field(description="Made by invite code (anyone may still watch it).")
    time_control: str = Field(description='As players say it: "3+2" (minutes+seconds).')
    base_ms: int
    increment_ms: int
    stake: int = Field(description="Stake per seat, minor units of `currency`.")
    currency: str
    started_at: datetime
    ended_at: datetime | None
    last_seq: int = Field(description="The last event's seq: subscribe after it to follow.")
    seats: list[Seat]


class GameList(BaseModel):
    """One page of the public game list, newest first."""

    items: list[ListedGame]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page.")


class GameEvent(BaseModel):
    """One entry of a game's event log."""

    seq: int
    kind: str
    seat: int | None
    ts_ms: int
    data: Any = Field(None, description="The event, when it is encoded as JSON.")
    body_b64: str | None = Field(None, description="The encoded event otherwise (base64).")


class GameDetail(GameSummary):
    """A game with its event log (empty until the engine has written to it)."""

    events: list[GameEvent]


# ------------------------------------------------------------------------------ money


class Wallet(BaseModel):
    """A player's balance."""

    balance: int = Field(description="Minor units of `currency`.")
    currency: str


class StatementLine(BaseModel):
    """One movement of a wallet."""

    entry_id: int
    transfer_id: int
    kind: str
    game_id: str | None
    memo: str | None
    amount: int = Field(description="Signed minor units: positive credits the wallet.")
    balance_after: int
    created_at: datetime


class Statement(BaseModel):
    """One page of a wallet statement, newest first."""

    items: list[StatementLine]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page.")


class MoneyRequest(_Request):
    """A deposit or withdrawal by an operator."""

    amount: int = Field(gt=0, le=10**15, description="Minor units, positive.")
    memo: str | None = Field(None, max_length=500)


class AdjustRequest(_Request):
    """A correction by an operator."""

    amount: int = Field(ge=-(10**15), le=10**15, description="Signed minor units, not zero.")
    memo: str | None = Field(None, max_length=500)


class TransferResult(BaseModel):
    """The outcome of an operator's money movement."""

    transfer_id: int
    kind: str
    username: str
    amount: int = Field(description="Signed change of the player's wallet, minor units.")
    balance: int = Field(description="The wallet's balance right after this transfer.")
    currency: str
    memo: str | None
    created_at: datetime


# ------------------------------------------------------------------------------ health


class Health(BaseModel):
    """A health answer."""

    status: Literal["ok"]
