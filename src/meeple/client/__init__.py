"""An async Python client for meeple's WebSocket protocol (v1) and its REST api.

::

    from meeple.client import Api, Client, ws_url

    async with Api("http://127.0.0.1:8000") as api:
        tokens = await api.register_or_login("alice", "correct horse 1")
    client = await Client.connect(ws_url("http://127.0.0.1:8000"), tokens.access_token)
"""

from meeple.client.connection import Client
from meeple.client.errors import (
    ClientClosed,
    ClientError,
    CommandError,
    ConnectionFailed,
    HttpError,
)
from meeple.client.http import Api, Tokens, register_or_login, ws_url
from meeple.client.view import GameView

__all__ = [
    "Api",
    "Client",
    "ClientClosed",
    "ClientError",
    "CommandError",
    "ConnectionFailed",
    "GameView",
    "HttpError",
    "Tokens",
    "register_or_login",
    "ws_url",
]
