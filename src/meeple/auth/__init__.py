"""Authentication: passwords, access tokens, refresh sessions, login throttling.

Free of any web framework, so that the api tier and the gateway share it:
the gateway only needs :func:`verify_access_token` and :func:`load_key_ring`.

- :mod:`~meeple.auth.errors` — the exception tree (each error has a stable ``code``)
- :mod:`~meeple.auth.policy` — username and password rules
- :mod:`~meeple.auth.passwords` — argon2id hashing, off the event loop
- :mod:`~meeple.auth.keys` — the signing keys: the current one and previous ones (rotation)
- :mod:`~meeple.auth.tokens` — signed access tokens (JWT, HS256, ``kid`` header)
- :mod:`~meeple.auth.accounts` — players in the store
- :mod:`~meeple.auth.sessions` — refresh-token families (rotation, reuse detection)
- :mod:`~meeple.auth.throttle` — login throttling on counters shared through the store
"""

from meeple.auth.errors import AuthError, InvalidToken, TokenExpired
from meeple.auth.keys import KeyRing, key_id, load_key_ring, load_signing_key
from meeple.auth.tokens import AccessClaims, TokenSigner, verify_access_token

__all__ = [
    "AccessClaims",
    "AuthError",
    "InvalidToken",
    "KeyRing",
    "TokenExpired",
    "TokenSigner",
    "key_id",
    "load_key_ring",
    "load_signing_key",
    "verify_access_token",
]
