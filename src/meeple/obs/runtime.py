"""The interpreter's garbage collector, tuned for a long-running server.

CPython's cyclic collector runs a young-generation pass every 700 net container
allocations and, now and then, a full pass over every object the process holds:
the imported modules, the store's and the web framework's machinery, every live
game. A move allocates a few hundred objects, so at load the collector ran several
times a second, most of its work re-proving that start-up objects are still alive
(~9% of an engine's time in ``benchmarks/engine.py``).

After start-up, :func:`settle_heap` moves everything allocated so far into the
permanent generation (``gc.freeze()``: never traversed again) and raises the young
generation's threshold. Reference counting still frees almost everything at once;
only garbage in reference cycles waits a little longer for its collection.
"""

from __future__ import annotations

import gc
import logging

log = logging.getLogger(__name__)


def settle_heap(gen0_threshold: int) -> None:
    """Freeze what start-up allocated; young collections every ``gen0_threshold``
    allocations (0: leave Python's defaults)."""
    if gen0_threshold <= 0:
        return
    gc.collect()
    gc.freeze()
    _, gen1, gen2 = gc.get_threshold()
    gc.set_threshold(gen0_threshold, gen1, gen2)
    log.debug("heap settled", extra={"frozen": gc.get_freeze_count(), "gen0": gen0_threshold})
