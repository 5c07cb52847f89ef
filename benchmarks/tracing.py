"""What tracing costs a move: nothing measurable when off, and how much when on.

::

    python benchmarks/tracing.py               # ~2 s
    python benchmarks/tracing.py --rounds 20000

Off (``MEEPLE_OTEL_ENDPOINT`` unset), a move passes two hooks: the gateway's
``Session._submit`` (one flag test, then the same submit and answer as before)
and the engine's per-batch hooks in ``Engine._decide`` and ``Engine._land`` (one flag test and
three ``is not None`` tests per batch). Each is timed against the code it
replaced, on the same objects in the same run; the internal Command's encode and
decode against the struct as it was before the ``trace`` field (one nil byte
more when unset).

On (for sizing ``MEEPLE_OTEL_SAMPLE_RATIO``): a sampled move's spans through the
SDK (gateway span, engine span with its decide and commit children), with an
exporter that drops them, plus the OTLP protobuf encoding of those spans (done on
the SDK's export thread, but CPU all the same); and a move that is not sampled
(the gateway decides, nothing is carried, the engine does nothing). Figures in
ns per move; the engine figures are for a batch of one command, the worst case.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

import msgspec
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from meeple.engine import spans as engine_spans
from meeple.engine.table import Reply
from meeple.gateway import spans as gateway_spans
from meeple.gateway.session import Session
from meeple.obs import tracing
from meeple.protocol.internal import Command, CommandReply, decode_command, encode_internal


class OldCommand(msgspec.Struct, frozen=True, array_like=True):
    """The internal Command before the ``trace`` field."""

    game_id: str
    player_id: int
    command_id: str
    kind: str
    arg: str | None
    reply_to: str
    sent_ms: int


class Router:
    """Just enough of CommandRouter: submit returns a future that is never resolved."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.future: asyncio.Future[CommandReply] = loop.create_future()

    def submit(self, queue: str, command: Command, *, shard: int | None = None) -> Any:
        return self.future


class Step:
    def __init__(self, command: Command) -> None:
        self.command = command
        self.reply: Reply | None = Reply(True, seq=7)
        self.item: int | None = 0


class Keep(SpanExporter):
    """Keeps the last spans (for the encoding figure) and drops the rest."""

    def __init__(self) -> None:
        self.last: list[ReadableSpan] = []

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self.last = [*self.last[-7:], *spans]
        return SpanExportResult.SUCCESS


def per_call_ns(fn: Callable[[], object], rounds: int) -> float:
    """The best of 5 runs of ``rounds`` calls, ns per call."""
    best = float("inf")
    for _ in range(5):
        started = time.perf_counter_ns()
        for _ in range(rounds):
            fn()
        best = min(best, (time.perf_counter_ns() - started) / rounds)
    return best


def off_figures(rounds: int) -> dict[str, float]:
    assert not tracing.ENABLED
    loop = asyncio.new_event_loop()
    session = Session.__new__(Session)  # only _submit and what it calls are used
    session.router = Router(loop)  # type: ignore[assignment]
    session._answer = lambda conn, command, future: None  # type: ignore[method-assign]
    command = Command("g1", 1, "c1", "move", "e2e4", "gw", 1_700_000_000_000)
    conn: Any = None

    def old_gateway() -> None:
        session._answer(conn, command, session.router.submit("cmd.3", command, shard=3))

    def new_gateway() -> None:
        session._submit(conn, "cmd.3", command, 3)

    commands = [command]

    def old_batch() -> float:
        started = time.perf_counter()
        return started

    def new_batch() -> float:
        started = time.perf_counter()
        traced = engine_spans.batch(commands, "sqlite") if tracing.ENABLED else None
        if traced is not None:
            traced.committing()
        if traced is not None:
            traced.committed(1, 1)
        if traced is not None:
            traced.finish([], [])
        return started

    old = OldCommand("g1", 1, "c1", "move", "e2e4", "gw", 1_700_000_000_000)
    old_encoder = msgspec.msgpack.Encoder()
    old_decoder = msgspec.msgpack.Decoder(OldCommand)
    data = encode_internal(command)
    # Either side reads the other: the old struct ignores the trailing nil, the new
    # one defaults a missing trace.
    assert old_decoder.decode(data) == old
    assert decode_command(old_encoder.encode(old)) == command
    figures = {
        "off_gateway_ns": per_call_ns(new_gateway, rounds) - per_call_ns(old_gateway, rounds),
        "off_engine_batch_ns": per_call_ns(new_batch, rounds) - per_call_ns(old_batch, rounds),
        "off_encode_ns": per_call_ns(lambda: encode_internal(command), rounds)
        - per_call_ns(lambda: old_encoder.encode(old), rounds),
        "off_decode_ns": per_call_ns(lambda: decode_command(data), rounds)
        - per_call_ns(lambda: old_decoder.decode(data), rounds),
    }
    loop.close()
    return figures


def on_figures(rounds: int) -> dict[str, float]:
    keep = Keep()
    tracing.install(keep, service_name="bench", sample_ratio=1.0, batch=False)
    loop = asyncio.new_event_loop()
    command = Command("g1", 1, "c1", "move", "e2e4", "gw", 1_700_000_000_000)
    try:

        def one_move() -> None:
            sent, span = gateway_spans.start(command)
            traced = engine_spans.batch([decode_command(encode_internal(sent))], "sqlite")
            assert traced is not None
            traced.committing()
            traced.committed(1, 1)
            traced.finish([Step(c) for c, _ in traced._spans.values()], [])
            future: asyncio.Future[CommandReply] = loop.create_future()
            future.set_result(CommandReply("c1", 1, "g1", True, seq=7))
            gateway_spans.finish(span, future)

        move_ns = per_call_ns(one_move, max(1, rounds // 10))
        spans = keep.last[-4:]
        assert len(spans) == 4, [s.name for s in spans]
        encode_ns = per_call_ns(lambda: encode_spans(spans).SerializeToString(), rounds // 10)
    finally:
        tracing.shutdown()
        loop.close()
    tracing.install(keep, service_name="bench", sample_ratio=0.0, batch=False)
    loop = asyncio.new_event_loop()
    try:

        def unsampled_move() -> None:
            sent, span = gateway_spans.start(command)
            assert engine_spans.batch([decode_command(encode_internal(sent))], "sqlite") is None
            future: asyncio.Future[CommandReply] = loop.create_future()
            future.set_result(CommandReply("c1", 1, "g1", True, seq=7))
            gateway_spans.finish(span, future)

        unsampled_ns = per_call_ns(unsampled_move, max(1, rounds // 10))
    finally:
        tracing.shutdown()
        loop.close()
    return {
        "on_move_spans_ns": move_ns,
        "on_move_encode_ns": encode_ns,
        "on_unsampled_move_ns": unsampled_ns,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=100_000, help="calls per timing")
    args = parser.parse_args(argv)
    figures = off_figures(args.rounds) | on_figures(args.rounds)
    print("tracing off: added ns per move (gateway hook, engine hooks per batch, encode, decode)")
    print(
        "tracing on: ns per sampled move (4 spans through the SDK; their OTLP encoding),"
        " per move not sampled (the gateway's sampling decision)"
    )
    print("  ".join(f"{k} {v:.1f}" for k, v in figures.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
