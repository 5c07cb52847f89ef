"""HTTP helpers for the api tier (httpx): register, login, refresh, wallet, deposit.

The api answers JSON; an error is an RFC 9457 problem with a stable ``code`` and a
``detail`` (``{"code", "message"}`` and FastAPI's bare ``{"detail"}`` are read too),
raised here as :class:`~meeple.client.errors.HttpError`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx

from meeple.client.errors import HttpError

API = "/api/v1"
DEFAULT_TIMEOUT_S = 30.0  # password hashing (argon2id) makes login slow on a busy server


@dataclass(frozen=True, slots=True)
class Tokens:
    """An access token (for the WebSocket and the api) and the refresh token that renews it."""

    access_token: str
    refresh_token: str
    expires_in: int

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> Tokens:
        """Read the api's token answer."""
        try:
            return cls(
                access_token=str(body["access_token"]),
                refresh_token=str(body["refresh_token"]),
                expires_in=int(body.get("expires_in", 0)),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise HttpError(200, "bad_response", f"no tokens in the answer: {body!r}") from exc


def ws_url(base_url: str) -> str:
    """The WebSocket endpoint of a server given its HTTP base URL
    (``http://h:8000`` -> ``ws://h:8000/ws``; a ws:// URL is kept as it is)."""
    parts = urlsplit(base_url)
    if parts.scheme in ("ws", "wss"):
        return base_url
    scheme = "wss" if parts.scheme == "https" else "ws"
    path = parts.path.rstrip("/") + "/ws"
    return urlunsplit((scheme, parts.netloc, path, "", ""))


def _error(response: httpx.Response) -> HttpError:
    code, message = f"http_{response.status_code}", response.reason_phrase
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and "code" in inner:  # RFC 9457 problem (+ code)
            code = str(inner["code"])
            message = str(inner.get("detail") or inner.get("message") or message)
        elif "detail" in body:
            detail = body["detail"]
            if isinstance(detail, dict) and "code" in detail:
                code = str(detail["code"])
                message = str(detail.get("message", message))
            else:
                message = str(detail)
    return HttpError(response.status_code, code, message)


class Api:
    """A small async client of the REST api. Use as ``async with Api(base_url) as api``."""

    def __init__(
        self,
        base_url: str,
        *,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._http = httpx.AsyncClient(
            base_url=self.base_url + API, timeout=timeout_s, transport=transport
        )

    async def __aenter__(self) -> Api:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._http.aclose()

    async def _call(
        self, method: str, path: str, *, json: Any = None, token: str | None = None
    ) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {token}"} if token else None
        response = await self._http.request(method, path, json=json, headers=headers)
        if response.status_code >= 400:
            raise _error(response)
        if not response.content:
            return {}
        body = response.json()
        if not isinstance(body, dict):
            raise HttpError(response.status_code, "bad_response", f"not an object: {body!r}")
        return body

    async def register(self, username: str, password: str) -> dict[str, Any]:
        """Create an account; returns the api's answer (the player, maybe tokens)."""
        return await self._call(
            "POST", "/auth/register", json={"username": username, "password": password}
        )

    async def login(self, username: str, password: str) -> Tokens:
        """Log in: a new session's tokens."""
        body = await self._call(
            "POST", "/auth/login", json={"username": username, "password": password}
        )
        return Tokens.from_json(body)

    async def refresh(self, refresh_token: str) -> Tokens:
        """Rotate a refresh token: new tokens (the old refresh token is spent)."""
        body = await self._call("POST", "/auth/refresh", json={"refresh_token": refresh_token})
        return Tokens.from_json(body)

    async def wallet(self, access_token: str) -> dict[str, Any]:
        """The player's wallet (balance in integer minor units)."""
        return await self._call("GET", "/wallet", token=access_token)

    async def deposit(
        self,
        operator_token: str,
        username: str,
        amount: int,
        *,
        idempotency_key: str,
        memo: str | None = None,
    ) -> dict[str, Any]:
        """Operator only: credit ``amount`` minor units to a player's wallet, once per key."""
        response = await self._http.post(
            f"/operator/players/{username}/deposit",
            json={"amount": amount, "memo": memo},
            headers={
                "Authorization": f"Bearer {operator_token}",
                "Idempotency-Key": idempotency_key,
            },
        )
        if response.status_code >= 400:
            raise _error(response)
        body = response.json()
        assert isinstance(body, dict)
        return body

    async def register_or_login(self, username: str, password: str) -> Tokens:
        """Register ``username`` if it is new, else log in; the session's tokens."""
        try:
            body = await self.register(username, password)
        except HttpError as exc:
            if exc.status != 409 and "taken" not in exc.code and "exists" not in exc.code:
                raise
        else:
            if "access_token" in body:
                return Tokens.from_json(body)
        return await self.login(username, password)


async def register_or_login(base_url: str, username: str, password: str) -> Tokens:
    """Register or log in one account at ``base_url`` (the server's HTTP address)."""
    async with Api(base_url) as api:
        return await api.register_or_login(username, password)
