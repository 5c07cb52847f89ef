"""Access tokens: short-lived JWTs (HS256) that any api or gateway process can verify alone.

Claims: ``sub`` (the player id, as a string), ``name`` (the username), ``role``
(``player`` or ``operator``), ``sid`` (the session family, so a logout can be honoured
by whoever checks the store), ``iat``, ``exp`` and ``jti`` (a random token id).

The signing key is the ``signing_key`` setting or, on embedded defaults, a random key
generated once and kept in ``<data_dir>/signing.key`` (mode 0600). Every process of one
deployment must share it.
"""

from __future__ import annotations

import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import jwt

from meeple.auth.errors import InvalidToken, TokenExpired

ALGORITHM = "HS256"
ROLES = frozenset({"player", "operator"})
_REQUIRED = ["sub", "role", "exp", "iat", "jti"]


class _KeySettings(Protocol):
    @property
    def signing_key(self) -> str | None: ...
    @property
    def data_dir(self) -> Path: ...


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


def load_signing_key(settings: _KeySettings) -> str:
    """The configured signing key, or the one kept in the data dir (created on first use)."""
    if settings.signing_key:
        return settings.signing_key
    return _key_file(settings.data_dir / "signing.key")


def _key_file(path: Path) -> str:
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        # Write a private temp file, then link it into place: link fails if another
        # process won the race, and nobody ever reads a half-written key.
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, secrets.token_urlsafe(48).encode())
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    key = path.read_text().strip()
    if not key:
        raise RuntimeError(f"signing key file {path} is empty")
    return key


class TokenSigner:
    """Issues access tokens with one key and lifetime."""

    def __init__(self, key: str, ttl_s: int) -> None:
        self._key = key
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
        return jwt.encode(payload, self._key, algorithm=ALGORITHM), claims

    def verify(self, token: str) -> AccessClaims:
        """Shortcut for :func:`verify_access_token` with this signer's key."""
        return verify_access_token(token, self._key)


def verify_access_token(token: str, key: str) -> AccessClaims:
    """The claims of ``token`` if it is well-formed, signed with ``key`` and not expired.

    Raises :class:`TokenExpired` for an expired token and :class:`InvalidToken` for any
    other defect. Needs no store: any api or gateway process verifies alone.
    """
    try:
        payload = jwt.decode(token, key, algorithms=[ALGORITHM], options={"require": _REQUIRED})
    except jwt.ExpiredSignatureError as exc:
        raise TokenExpired("access token has expired") from exc
    except jwt.PyJWTError as exc:
        raise InvalidToken("access token is not valid") from exc
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
