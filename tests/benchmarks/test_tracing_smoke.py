"""benchmarks/tracing.py still runs (about a second) and tracing off stays cheap."""

from __future__ import annotations

from tests.benchmarks.test_engine_smoke import _figures


def test_tracing_benchmark_measures_both_modes() -> None:
    figures = _figures("tracing.py", "--rounds", "2000")
    off = [figures[k] for k in ("off_gateway_ns", "off_engine_batch_ns", "off_encode_ns")]
    # Off, a move passes a flag test or two: far below what even an unsampled span
    # costs (a few microseconds); a hook that did tracing work while off would not be.
    assert all(value < 3000 for value in off), figures
    assert figures["on_move_spans_ns"] > figures["on_unsampled_move_ns"] > max(off)
    assert figures["on_move_encode_ns"] > 0
