"""The errors of :mod:`meeple.auth`; every one carries a stable machine-readable ``code``.

::

    AuthError
    ├── InvalidToken              invalid_token          (bad signature, malformed, wrong claims)
    │   └── TokenExpired          token_expired
    ├── InvalidCredentials        invalid_credentials    (unknown user or wrong password alike)
    ├── InvalidUsername           invalid_username
    ├── WeakPassword              weak_password
    ├── UsernameTaken             username_taken
    ├── PlayerNotFound            player_not_found
    ├── LoginThrottled            too_many_attempts      (carries ``retry_after`` seconds)
    └── RefreshError              invalid_refresh_token  (unknown or malformed)
        ├── RefreshTokenExpired   refresh_token_expired
        ├── RefreshTokenReused    refresh_token_reused   (the whole session family is now revoked)
        └── SessionRevoked        session_revoked        (logged out, or revoked after a reuse)

All of them are the caller's mistakes (or an attacker's); our own bugs are other exceptions.
"""

from __future__ import annotations


class AuthError(Exception):
    """Root of the authentication errors."""

    code = "auth_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidToken(AuthError):
    """An access token that is malformed, badly signed or lacks a required claim."""

    code = "invalid_token"


class TokenExpired(InvalidToken):
    """An access token past its ``exp``: the client should refresh."""

    code = "token_expired"


class InvalidCredentials(AuthError):
    """Unknown username or wrong password (deliberately the same error)."""

    code = "invalid_credentials"


class InvalidUsername(AuthError):
    """A username that breaks the rules of :mod:`meeple.auth.policy`."""

    code = "invalid_username"


class WeakPassword(AuthError):
    """A password that breaks the rules of :mod:`meeple.auth.policy`."""

    code = "weak_password"


class UsernameTaken(AuthError):
    """The username (compared case-insensitively) belongs to someone else."""

    code = "username_taken"


class PlayerNotFound(AuthError):
    """No player has this username (operator tools, public profiles)."""

    code = "player_not_found"


class LoginThrottled(AuthError):
    """Too many failed logins for this account or from this address."""

    code = "too_many_attempts"

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class RefreshError(AuthError):
    """A refresh token that is unknown or malformed."""

    code = "invalid_refresh_token"


class RefreshTokenExpired(RefreshError):
    """A refresh token past its lifetime: log in again."""

    code = "refresh_token_expired"


class RefreshTokenReused(RefreshError):
    """A refresh token that was already rotated: its session family has been revoked."""

    code = "refresh_token_reused"


class SessionRevoked(RefreshError):
    """The token's session family was revoked (logout or reuse detection)."""

    code = "session_revoked"
