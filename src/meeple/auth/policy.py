"""The rules for usernames and passwords (pure functions; docs/api.md states them).

Usernames: 3-32 characters of ``A-Z a-z 0-9 _ -``; unique without regard to case
(``Alice`` and ``alice`` are the same account); the case given at registration is kept
for display.

Passwords: 10-128 characters; at least two of the classes lower case, upper case,
digits, other characters; not the username (in any case); not one repeated character.
Length is what makes a password strong, so no further composition rules.
"""

from __future__ import annotations

import re

from meeple.auth.errors import InvalidUsername, WeakPassword

USERNAME_MIN = 3
USERNAME_MAX = 32
USERNAME_PATTERN = r"^[A-Za-z0-9_-]+$"
PASSWORD_MIN = 10
PASSWORD_MAX = 128

_USERNAME_RE = re.compile(r"[A-Za-z0-9_-]{3,32}")


def username_key(username: str) -> str:
    """The case-insensitive identity of a username (what uniqueness is checked on)."""
    return username.lower()


def check_username(username: str) -> str:
    """Return ``username`` if it follows the rules, else raise :class:`InvalidUsername`."""
    if not _USERNAME_RE.fullmatch(username):
        raise InvalidUsername(
            f"username must be {USERNAME_MIN}-{USERNAME_MAX} characters of "
            "letters, digits, '_' and '-'"
        )
    return username


def _classes(password: str) -> int:
    kinds = {
        "lower" if c.islower() else "upper" if c.isupper() else "digit" if c.isdigit() else "other"
        for c in password
    }
    return len(kinds)


def check_password(password: str, username: str) -> str:
    """Return ``password`` if it follows the rules, else raise :class:`WeakPassword`."""
    if not PASSWORD_MIN <= len(password) <= PASSWORD_MAX:
        raise WeakPassword(f"password must be {PASSWORD_MIN}-{PASSWORD_MAX} characters long")
    if _classes(password) < 2:
        raise WeakPassword(
            "password must mix at least two of: lower case, upper case, digits, other characters"
        )
    if len(set(password)) == 1:
        raise WeakPassword("password must not be one repeated character")
    if password.lower() == username.lower():
        raise WeakPassword("password must not be the username")
    return password
