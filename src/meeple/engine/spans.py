"""The engine's spans (tracing on only), for the commands of a batch that carry a
``traceparent`` (a sampled client command, a matchmaker's ``start``).

Each traced command gets, in its sender's trace::

    engine <kind>          the batch's start -> its reply sent (outcome, seq)
      engine decide        the batch's start -> its commit began (loading, rules)
      store commit         the one commit of the batch (only if the command wrote)

A batch serves many traces at once, so ``engine decide`` and ``store commit`` are
the batch's own phases, repeated in every trace the batch touched (with the
batch's size as attributes); their times are measured once per batch.

A batch that fails (the store is down) ends its open spans with the code every
sender is answered with (:func:`failed`); the batch in progress of the running
task is kept in a context variable, so several engines in one process keep
theirs apart.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from contextvars import ContextVar
from typing import Protocol

from opentelemetry import trace
from opentelemetry.trace import Span, SpanKind

from meeple.engine.table import Reply
from meeple.obs import tracing
from meeple.protocol.internal import Command

SCOPE = "meeple.engine"


class Step(Protocol):
    """What the engine's batch step offers (``meeple.engine.engine._Step``)."""

    @property
    def command(self) -> Command: ...
    @property
    def reply(self) -> Reply | None: ...
    @property
    def item(self) -> int | None: ...


class BatchSpans:
    """The open spans of one batch's traced commands."""

    __slots__ = ("_commit", "_dialect", "_size", "_spans", "_started")

    def __init__(self, traced: list[Command], size: int, dialect: str) -> None:
        self._started = time.time_ns()
        self._size = size
        self._dialect = dialect
        self._commit: tuple[int, int, int, int] | None = None  # start, end, appends, events
        tracer = tracing.tracer(SCOPE)
        now_ms = self._started // 1_000_000
        self._spans: dict[int, tuple[Command, Span]] = {}
        for command in traced:
            span = tracer.start_span(
                f"engine {command.kind}",
                context=tracing.remote(command.trace),
                kind=SpanKind.CONSUMER,
                start_time=self._started,
                attributes={
                    **tracing.command_attributes(command),
                    "meeple.command.age_ms": max(0, now_ms - command.sent_ms),
                    "meeple.batch.commands": size,
                },
            )
            self._spans[id(command)] = (command, span)

    def committing(self) -> None:
        """The batch's decisions are made; its commit begins."""
        self._commit = (time.time_ns(), 0, 0, 0)

    def committed(self, appends: int, events: int) -> None:
        """The commit is over (``appends`` games written, ``events`` events)."""
        began = self._commit[0] if self._commit is not None else time.time_ns()
        self._commit = (began, time.time_ns(), appends, events)

    def finish(self, steps: Sequence[Step], retry: Sequence[Command]) -> None:
        """Replies are sent: close every span with its command's outcome."""
        _open.set(None)
        again = {id(c) for c in retry}
        decided = self._commit[0] if self._commit is not None else time.time_ns()
        tracer = tracing.tracer(SCOPE)
        for step in steps:
            found = self._spans.pop(id(step.command), None)
            if found is None:
                continue
            span = found[1]
            context = trace.set_span_in_context(span)
            tracer.start_span("engine decide", context, start_time=self._started).end(decided)
            if step.item is not None and self._commit is not None and self._commit[1]:
                began, ended, appends, events = self._commit
                tracer.start_span(
                    "store commit",
                    context,
                    kind=SpanKind.CLIENT,
                    start_time=began,
                    attributes={
                        "db.system.name": self._dialect,
                        "meeple.commit.appends": appends,
                        "meeple.commit.events": events,
                    },
                ).end(ended)
            reply = step.reply
            if id(step.command) in again:
                tracing.outcome(span, "conflict")  # decided again on a reloaded table
            elif reply is not None:
                if reply.seq is not None:
                    span.set_attribute("meeple.seq", reply.seq)
                tracing.outcome(span, None if reply.ok else reply.code or "error")
            span.end()
        self.fail(
            "requeued"
        )  # commands that made no step: their shard moved, the new owner has them

    def fail(self, code: str) -> None:
        """Close the spans still open with ``code`` (the batch failed)."""
        for _, span in self._spans.values():
            tracing.outcome(span, code)
            span.end()
        self._spans.clear()


_open: ContextVar[BatchSpans | None] = ContextVar("meeple_engine_batch_spans", default=None)


def batch(commands: Sequence[Command], dialect: str) -> BatchSpans | None:
    """Spans for the traced commands of a batch (None: none is traced)."""
    traced = [c for c in commands if c.trace is not None]
    if not traced:
        return None
    spans = BatchSpans(traced, len(commands), dialect)
    _open.set(spans)
    return spans


def failed(code: str) -> None:
    """The running task's batch failed: end its open spans with ``code``."""
    spans = _open.get()
    if spans is not None:
        _open.set(None)
        spans.fail(code)
