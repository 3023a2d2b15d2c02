"""The collector's view of a long-running service's heap.

Everything built at start-up (modules, the app, the engine, compiled statements)
lives as long as the process. Left to the cyclic garbage collector, each full
collection walks all of it again: tens of milliseconds during which the event
loop answers no AGI request (measured with bench/routing.py: the loop stalled up
to 56 ms at 1,000 route decisions/s). Frozen, it is never scanned again.
"""

from __future__ import annotations

import gc


def freeze_startup_objects() -> None:
    """Collect once, then move every surviving object out of the collector's reach.

    Call when start-up is over. Objects made afterwards are collected as usual.
    """
    gc.collect()
    gc.freeze()


def thaw_startup_objects() -> None:
    """Give the frozen objects back to the collector (the service is stopping).

    Several apps may start and stop in one process (the tests): what one left
    behind must not stay out of reach for good.
    """
    gc.unfreeze()
