"""Tracing on, with no collector to take the spans: a real ``meeple serve`` plays as
before, says so once in its log, and still stops promptly on SIGTERM."""

from __future__ import annotations

import signal
import time
from pathlib import Path

from tests.e2e.conftest import Platform, make_server
from tests.e2e.helpers import eventually, queue_and_match, subscribe
from tests.services import free_port


async def test_play_goes_on_while_the_trace_collector_is_down(data_root: Path) -> None:
    server = make_server(
        data_root,
        MEEPLE_OTEL_ENDPOINT=f"http://127.0.0.1:{free_port()}",  # nothing listens there
        MEEPLE_OTEL_SAMPLE_RATIO="1",
        MEEPLE_LOG_LEVEL="INFO",
        OTEL_BSP_SCHEDULE_DELAY="50",
        OTEL_EXPORTER_OTLP_TRACES_TIMEOUT="1",
    )
    server.start()
    platform = Platform(server)
    try:
        alice, bob = await platform.player(), await platform.player()
        a, b = await platform.welcome(alice), await platform.welcome(bob)
        game_id, by_seat = await queue_and_match([a, b], "chess", "1+0", 0)
        await subscribe(by_seat[0], game_id)

        async def warned() -> bool:
            return "trace collector unreachable" in server.log.read_text()

        await eventually(warned, "the collector outage in the log")
        for ply, move in enumerate(["e2e4", "e7e5", "g1f3", "b8c6"]):
            mover = by_seat[ply % 2]
            reply = await mover.call({"type": "move", "game_id": game_id, "move": move})
            assert reply["type"] == "ack" and reply["seq"] == ply + 2, reply
        stopping = time.monotonic()
        server.signal(signal.SIGTERM)
        assert server.wait() == 0, server.tail()
        assert time.monotonic() - stopping < 10  # the last spans are not waited for long
    finally:
        await platform.close()
        server.stop()
    log = server.log.read_text()
    assert log.count("trace collector unreachable") == 1, server.tail()
    warning = next(line for line in log.splitlines() if "trace collector unreachable" in line)
    assert "spans dropped" in warning and "meeple-serve" in warning, warning
    assert "Traceback" not in log and "opentelemetry" not in log, server.tail()
