"""OutageLog: one WARNING when an outage starts, one INFO when it ends, nothing between."""

from __future__ import annotations

import logging

import pytest

from meeple.bus.base import BusUnavailable
from meeple.obs.outage import OutageLog


def test_a_long_outage_logs_twice(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("meeple.tests.outage")
    outage = OutageLog(logger, "bus", "matchmaker mm-1")
    caplog.set_level(logging.DEBUG, logger=logger.name)
    outage.succeeded()  # up all along: nothing to say
    for _ in range(50):
        outage.failed(BusUnavailable("Connection refused"))
    assert outage.down
    outage.succeeded()
    outage.succeeded()
    assert not outage.down
    outage.failed(BusUnavailable("Connection reset"))  # a second outage is told again
    logged = [(r.levelno, r.getMessage(), r.exc_info) for r in caplog.records]
    assert logged == [
        (logging.WARNING, "matchmaker mm-1: bus unreachable: Connection refused", None),
        (logging.INFO, "matchmaker mm-1: bus reachable again", None),
        (logging.WARNING, "matchmaker mm-1: bus unreachable: Connection reset", None),
    ]
