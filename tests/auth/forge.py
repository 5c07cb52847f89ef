"""Access tokens made outside meeple's signer: as issued before key ids existed."""

from __future__ import annotations

import time

import jwt

from meeple.auth.tokens import ALGORITHM


def legacy_token(key: str, player_id: int, session_id: str | None = None, exp_in: int = 900) -> str:
    """A token as meeple issued it before key ids: the same claims, no ``kid`` header."""
    now = int(time.time())
    payload: dict[str, object] = {"sub": str(player_id), "name": "p", "role": "player"}
    payload |= {"iat": now, "exp": now + exp_in, "jti": f"legacy-{time.monotonic_ns()}"}
    if session_id is not None:
        payload["sid"] = session_id
    token = jwt.encode(payload, key, algorithm=ALGORITHM)
    assert "kid" not in jwt.get_unverified_header(token)
    return token
