"""The gateway's spans (tracing on only): one per client command, from its frame
to its answer, whose ``traceparent`` rides in the command to the engine."""

from __future__ import annotations

import asyncio

import msgspec
from opentelemetry.trace import Span, SpanKind

from meeple.obs import tracing
from meeple.protocol.errors import ProtocolError
from meeple.protocol.internal import Command, CommandReply

SCOPE = "meeple.gateway"


def start(command: Command) -> tuple[Command, Span]:
    """Open the command's span; the command to send (carrying it when sampled)."""
    span = tracing.tracer(SCOPE).start_span(
        f"gateway {command.kind}",
        kind=SpanKind.SERVER,
        attributes=tracing.command_attributes(command),
    )
    parent = tracing.traceparent(span)
    if parent is not None:
        command = msgspec.structs.replace(command, trace=parent)
    return command, span


def finish(span: Span, future: asyncio.Future[CommandReply]) -> None:
    """Close the span with the command's outcome (``ok`` or the code the client got)."""
    if future.cancelled():
        code: str | None = "cancelled"
    elif (exc := future.exception()) is not None:
        code = exc.code if isinstance(exc, ProtocolError) else "internal_error"
    else:
        reply = future.result()
        code = None if reply.ok else reply.code or "internal_error"
        if reply.seq is not None:
            span.set_attribute("meeple.seq", reply.seq)
    tracing.outcome(span, code)
    span.end()
