"""The client's exceptions.

::

    ClientError                 root: anything this package raises on purpose
    ├── CommandError            the server refused a command (``code`` from protocol CODES)
    ├── ConnectionFailed        no WebSocket could be opened (or the server refused us)
    ├── ClientClosed            the client was closed while a call waited
    └── HttpError               an HTTP call to the api failed (``status``, ``code``)
"""

from __future__ import annotations


class ClientError(Exception):
    """Root of the client's errors; ``code`` is stable and machine-readable."""

    code = "client_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


# Refusals that a failover, a restart or a lost answer cause: the same command again
# (with the same id) is safe and succeeds once the platform has recovered.
RETRIABLE_CODES = frozenset({"games_unavailable", "timeout", "draining"})


class CommandError(ClientError):
    """The server answered a command with an ``error`` frame (or none in time:
    ``timeout``, retriable with the same command id)."""

    def __init__(self, code: str, message: str, *, retry_after_ms: int | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.retry_after_ms = retry_after_ms

    @property
    def retriable(self) -> bool:
        """Whether sending the same command again, with the same id, may succeed."""
        return self.code in RETRIABLE_CODES


class ConnectionFailed(ClientError):
    """The WebSocket could not be opened, or the server closed it at the door
    (``unauthorized``, ``token_expired``, ``too_many_connections``)."""

    code = "connection_failed"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code


class ClientClosed(ClientError):
    """The client was closed while a command or a wait was pending."""

    code = "client_closed"


class HttpError(ClientError):
    """An api request failed: ``status`` is the HTTP status, ``code`` the api's error code
    (or ``http_<status>`` when the body had none)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"HTTP {status} {code}: {message}")
        self.status = status
        self.code = code
