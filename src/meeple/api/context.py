"""What every request handler shares: settings, the store and the auth services."""

from __future__ import annotations

from dataclasses import dataclass

from meeple.auth.keys import load_key_ring
from meeple.auth.passwords import PasswordHasher
from meeple.auth.sessions import Sessions
from meeple.auth.throttle import LoginThrottle
from meeple.auth.tokens import TokenSigner
from meeple.ledger import Ledger
from meeple.settings import Settings
from meeple.store.database import Store


@dataclass(frozen=True, slots=True)
class ApiContext:
    """Process-wide services of the api; nothing here holds per-user state."""

    settings: Settings
    store: Store
    hasher: PasswordHasher
    signer: TokenSigner
    sessions: Sessions
    throttle: LoginThrottle
    ledger: Ledger

    @classmethod
    def build(cls, settings: Settings, store: Store) -> ApiContext:
        """Wire the services for ``settings`` on ``store``."""
        signer = TokenSigner(load_key_ring(settings), settings.access_token_ttl_s)
        return cls(
            settings=settings,
            store=store,
            hasher=PasswordHasher(
                time_cost=settings.password_hash_time_cost,
                memory_kib=settings.password_hash_memory_kib,
            ),
            signer=signer,
            sessions=Sessions(store, signer, settings.refresh_token_ttl_s),
            throttle=LoginThrottle(
                store, max_failures=settings.login_max_failures, window_s=settings.login_window_s
            ),
            ledger=Ledger(store, settings.currency),
        )
