"""Signing keys: the current one signs, previous ones still verify (a rotation's overlap).

Every access token names its key in the JWT header as ``kid``: :func:`key_id`, the
first 8 hex digits of the key's SHA-256 (a name, never the key; it tells an HMAC key
apart, nothing more). A rotation puts a new key in ``signing_key`` and the old one in
``signing_keys_previous`` on every api and gateway; tokens the old key signed keep
verifying until they expire, then the old key is dropped.

The current key is the ``signing_key`` setting or, on embedded defaults, a random key
generated once and kept in ``<data_dir>/signing.key`` (mode 0600). Every process of one
deployment must share them.
"""

from __future__ import annotations

import hashlib
import logging
import os
import secrets
from collections.abc import Iterable
from pathlib import Path
from typing import Protocol

log = logging.getLogger(__name__)

KEY_FILE = "signing.key"


class _KeySettings(Protocol):
    @property
    def signing_key(self) -> str | None: ...
    @property
    def signing_keys_previous(self) -> str: ...
    @property
    def data_dir(self) -> Path: ...


def new_key() -> str:
    """A fresh random signing key (64 URL-safe characters, 384 bits)."""
    return secrets.token_urlsafe(48)


def key_id(key: str) -> str:
    """The ``kid`` of ``key``: the first 8 hex digits of its SHA-256."""
    return hashlib.sha256(key.encode()).hexdigest()[:8]


def split_keys(text: str) -> list[str]:
    """The keys of a comma-separated list (blanks around them and empty items dropped)."""
    return [key.strip() for key in text.split(",") if key.strip()]


class KeyRing:
    """The current signing key and the previous ones still accepted for verification.

    Only :attr:`current` ever signs. Its ``repr`` shows key ids, never keys, so a ring
    may appear in logs and tracebacks.
    """

    __slots__ = ("_by_id", "current", "current_id", "previous")

    def __init__(self, current: str, previous: Iterable[str] = ()) -> None:
        if not current:
            raise ValueError("the current signing key is empty")
        self.current = current
        self.current_id = key_id(current)
        by_id = {self.current_id: current}
        kept: list[str] = []
        for key in previous:
            if not key or key in by_id.values():
                continue  # the current key listed again, or a repeat: harmless
            kid = key_id(key)
            if kid in by_id:
                raise ValueError(f"two signing keys share the key id {kid}: replace one")
            by_id[kid] = key
            kept.append(key)
        self.previous: tuple[str, ...] = tuple(kept)
        self._by_id = by_id

    @property
    def keys(self) -> tuple[str, ...]:
        """Every key that verifies, the current one first."""
        return (self.current, *self.previous)

    @property
    def previous_ids(self) -> list[str]:
        """The ids of the previous keys, in their configured order."""
        return [key_id(key) for key in self.previous]

    def get(self, kid: str) -> str | None:
        """The key whose id is ``kid``, or None if this ring does not hold it."""
        return self._by_id.get(kid)

    def __repr__(self) -> str:
        return f"KeyRing(current={self.current_id!r}, previous={self.previous_ids!r})"


def load_signing_key(settings: _KeySettings) -> str:
    """The configured signing key, or the one kept in the data dir (created on first use)."""
    if settings.signing_key:
        return settings.signing_key
    return _key_file(settings.data_dir / KEY_FILE)


def configured_key_ring(settings: _KeySettings) -> KeyRing | None:
    """The ring :func:`load_key_ring` would load, or None if that would create the key
    file (no ``signing_key`` and no ``<data_dir>/signing.key`` yet). For tools."""
    if not settings.signing_key and not (settings.data_dir / KEY_FILE).exists():
        return None
    return _ring(settings)


def _ring(settings: _KeySettings) -> KeyRing:
    return KeyRing(load_signing_key(settings), split_keys(settings.signing_keys_previous))


def load_key_ring(settings: _KeySettings) -> KeyRing:
    """The current key (:func:`load_signing_key`) and ``signing_keys_previous``."""
    ring = _ring(settings)
    log.info(
        "signing keys loaded",
        extra={"kid": ring.current_id, "previous_kids": ring.previous_ids},
    )
    return ring


def _key_file(path: Path) -> str:
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        # Write a private temp file, then link it into place: link fails if another
        # process won the race, and nobody ever reads a half-written key.
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, new_key().encode())
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
