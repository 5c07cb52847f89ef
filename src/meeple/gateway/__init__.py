"""The gateway tier: WebSocket edge (auth, relay, fan-out, resume, limits, drain).

Modules: :mod:`.gateway` (the endpoint and the shared loop), :mod:`.session`
(what each client frame does), :mod:`.hub` (bus subscriptions and fan-out with
per-client sequence tracking), :mod:`.commands` (commands and their replies),
:mod:`.connection` (one client's state and outbox), :mod:`.limits` (sans-I/O
limits), :mod:`.reads` (the store queries it needs).
"""

from meeple.gateway.gateway import Gateway

__all__ = ["Gateway"]
