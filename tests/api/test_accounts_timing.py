"""Login for an unknown user costs a password verification, like a wrong password."""

from __future__ import annotations

import time

import pytest

from meeple.auth import accounts
from meeple.auth.errors import InvalidCredentials
from meeple.auth.passwords import PasswordHasher
from meeple.store.database import Store
from tests.api.conftest import PASSWORD


async def _seconds(store: Store, hasher: PasswordHasher, username: str) -> float:
    start = time.perf_counter()
    with pytest.raises(InvalidCredentials):
        await accounts.authenticate(store, hasher, username, "Wrong-pass-1")
    return time.perf_counter() - start


async def test_unknown_user_takes_as_long_as_wrong_password(sqlite_url: str) -> None:
    store = await Store.open(sqlite_url, migrate=False)
    try:
        # A cost well above the HTTP-free noise (~20 ms), so that a skipped hash would show.
        hasher = PasswordHasher(time_cost=1, memory_kib=16384)
        await accounts.create_player(store, hasher, "timing_alice", PASSWORD)
        await _seconds(store, hasher, "nobody_at_all")  # the dummy hash is made once, lazily
        wrong = min([await _seconds(store, hasher, "timing_alice") for _ in range(3)])
        missing = min([await _seconds(store, hasher, "nobody_at_all") for _ in range(3)])
    finally:
        await store.close()
    assert missing > 0.3 * wrong, (missing, wrong)
    assert wrong > 0.005  # the check above means something only if hashing is slow
