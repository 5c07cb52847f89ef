"""meeple: real-time, server-authoritative, turn-based multiplayer board games.

Packages, from the inside out:

- ``rules`` — pure game logic (the plug-in interface, four-player chess, chess)
- ``protocol`` — wire messages shared by gateway, engine and client
- ``store`` / ``bus`` — ports and their adapters (SQLite/PostgreSQL, memory/Redis)
- ``ledger`` — double-entry money
- ``api`` / ``gateway`` / ``engine`` / ``matchmaking`` — the tiers
- ``client`` / ``bots`` — the Python client for the protocol
"""

__version__ = "0.1.0"
