"""The matchmaking tests share the engine tests' store fixture."""

from tests.engine.conftest import sqlite_store

__all__ = ["sqlite_store"]
