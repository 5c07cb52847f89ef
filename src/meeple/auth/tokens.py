"""Access tokens: short-lived JWTs (HS256) that any api or gateway process can verify alone.

Claims: ``sub`` (the player id, as a string), ``name`` (the username), ``role``
(``player`` or ``operator``), ``sid`` (the session family, so a logout can be honoured
by whoever checks the store), ``iat``, ``exp`` and ``jti`` (a random token id). The
header's ``kid`` names the key that signed it (:mod:`meeple.auth.keys`): verification
uses that key if the ring holds it, and refuses the token otherwise. A token without
``kid`` (issued before key ids existed) is tried against every key of the ring, the
current one first.
"""

from __future__ import annotations

import contextlib
import secrets
import time
from dataclasses import dataclass
from typing import Any

import jwt

from meeple.auth.errors import InvalidToken, TokenExpired
from meeple.auth.keys import KeyRing

ALGORITHM = "HS256"
ROLES = frozenset({"player", "operator"})
_REQUIRED = ["sub", "role", "exp", "iat", "jti"]


@dataclass(frozen=True, slots=True)
class AccessClaims:
    """The verified content of an access token."""

    player_id: int
    username: str
    role: str
    session_id: str | None
    issued_at: int
    expires_at: int
    token_id: str


def _ring(keys: KeyRing | str) -> KeyRing:
    return keys if isinstance(keys, KeyRing) else KeyRing(keys)


class TokenSigner:
    """Issues access tokens with the ring's current key, and verifies them with the ring."""

    def __init__(self, keys: KeyRing | str, ttl_s: int) -> None:
        self.keys = _ring(keys)
        self.ttl_s = ttl_s

    def issue(
        self, player_id: int, username: str, role: str, session_id: str | None
    ) -> tuple[str, AccessClaims]:
        """A signed token for this player, and its claims."""
        now = int(time.time())
        claims = AccessClaims(
            player_id=player_id,
            username=username,
            role=role,
            session_id=session_id,
            issued_at=now,
            expires_at=now + self.ttl_s,
            token_id=secrets.token_urlsafe(12),
        )
        payload: dict[str, object] = {
            "sub": str(player_id),
            "name": username,
            "role": role,
            "iat": claims.issued_at,
            "exp": claims.expires_at,
            "jti": claims.token_id,
        }
        if session_id is not None:
            payload["sid"] = session_id
        headers = {"kid": self.keys.current_id}
        token = jwt.encode(payload, self.keys.current, algorithm=ALGORITHM, headers=headers)
        return token, claims

    def verify(self, token: str) -> AccessClaims:
        """Shortcut for :func:`verify_access_token` with this signer's keys."""
        return verify_access_token(token, self.keys)


def verify_access_token(token: str, keys: KeyRing | str) -> AccessClaims:
    """The claims of ``token`` if it is well-formed, signed with a key of ``keys`` (a
    ring, or one key) and not expired.

    Raises :class:`TokenExpired` for an expired token and :class:`InvalidToken` for any
    other defect, a key the ring does not hold included. Needs no store: any api or
    gateway process verifies alone.
    """
    payload = _decode(token, _candidates(token, _ring(keys)))
    sub, role, sid = payload["sub"], payload["role"], payload.get("sid")
    if not (isinstance(sub, str) and sub.isdigit()) or role not in ROLES:
        raise InvalidToken("access token has malformed claims")
    if sid is not None and not isinstance(sid, str):
        raise InvalidToken("access token has malformed claims")
    name = payload.get("name")
    return AccessClaims(
        player_id=int(sub),
        username=name if isinstance(name, str) else "",
        role=role,
        session_id=sid,
        issued_at=int(payload["iat"]),
        expires_at=int(payload["exp"]),
        token_id=str(payload["jti"]),
    )


def _candidates(token: str, ring: KeyRing) -> tuple[str, ...]:
    """The keys to try on ``token``: the one its ``kid`` names, or all for a legacy token."""
    try:
        kid = jwt.get_unverified_header(token).get("kid")
    except jwt.PyJWTError as exc:
        raise InvalidToken("access token is not valid") from exc
    if kid is None:
        return ring.keys
    key = ring.get(kid) if isinstance(kid, str) else None
    if key is None:
        shown = kid[:16] if isinstance(kid, str) else "?"
        raise InvalidToken(
            f"access token is signed with an unknown key (kid {shown!r}): refresh it"
        )
    return (key,)


def _decode(token: str, keys: tuple[str, ...]) -> dict[str, Any]:
    """The payload of ``token`` verified with the first of ``keys`` whose signature
    matches (the claims are checked only once a signature matched)."""
    try:
        for key in keys[:-1]:
            with contextlib.suppress(jwt.InvalidSignatureError):
                return _decode_with(token, key)
        return _decode_with(token, keys[-1])
    except jwt.ExpiredSignatureError as exc:
        raise TokenExpired("access token has expired") from exc
    except jwt.PyJWTError as exc:
        raise InvalidToken("access token is not valid") from exc


def _decode_with(token: str, key: str) -> dict[str, Any]:
    payload: dict[str, Any] = jwt.decode(
        token, key, algorithms=[ALGORITHM], options={"require": _REQUIRED}
    )
    return payload
