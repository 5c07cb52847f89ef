"""Logging configured once per process: JSON lines on stderr (or plain text).

Each JSON line has ``ts`` (UTC, ISO 8601), ``level``, ``logger``, ``msg``, any
``extra={...}`` fields given to the logging call, ``trace_id`` and ``span_id``
when tracing is on and a sampled span is current, and ``exc`` with the traceback
when there is one. uvicorn's own loggers are routed through the same handler.
"""

from __future__ import annotations

import logging
import sys
from datetime import UTC, datetime
from typing import Protocol

import orjson

from meeple.obs import tracing

# Attributes every LogRecord has; anything else on a record came from ``extra=``.
# uvicorn's "color_message" is a terminal-only duplicate of msg.
_STANDARD = frozenset(vars(logging.makeLogRecord({}))) | {
    "message",
    "asctime",
    "taskName",
    "color_message",
}


class _LogSettings(Protocol):
    @property
    def log_level(self) -> str: ...
    @property
    def log_json(self) -> bool: ...


class JsonFormatter(logging.Formatter):
    """One JSON object per record."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                line[key] = value
        if tracing.ENABLED and (ids := tracing.current_ids()) is not None:
            line["trace_id"], line["span_id"] = ids
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return orjson.dumps(line, default=str).decode()


def configure_logging(settings: _LogSettings) -> None:
    """Send every logger's records to stderr, as JSON lines unless ``log_json`` is off."""
    handler = logging.StreamHandler(sys.stderr)
    if settings.log_json:
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(settings.log_level.upper())
    # uvicorn installs its own handlers unless told otherwise; make it use ours.
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
