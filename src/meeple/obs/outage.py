"""An outage logged once: a WARNING when it starts, an INFO when it ends.

A loop that retries every few hundred milliseconds while Redis (or the store) is
down would otherwise log the same traceback at every turn and bury what else
happened. Only the expected "cannot reach it" error goes through here; any other
exception is still a bug and keeps its ERROR with a traceback at the caller.
"""

from __future__ import annotations

import logging


class OutageLog:
    """Tracks whether ``what`` (e.g. "bus") is reachable, as seen by ``where``."""

    def __init__(self, logger: logging.Logger, what: str, where: str) -> None:
        self.logger = logger
        self.what = what
        self.where = where
        self.down = False

    def failed(self, exc: BaseException) -> None:
        """An attempt failed because ``what`` is unreachable: warn if it just went down."""
        if not self.down:
            self.down = True
            self.logger.warning("%s: %s unreachable: %s", self.where, self.what, exc)

    def succeeded(self) -> None:
        """An attempt went through: say so once if ``what`` was down."""
        if self.down:
            self.down = False
            self.logger.info("%s: %s reachable again", self.where, self.what)
