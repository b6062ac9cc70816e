"""How a long-running process (the web app, the job worker) keeps the garbage collector from
pausing its requests.

CPython's cyclic collector stops every thread while it walks the objects it tracks. A server
holds a few hundred thousand of them from its start (modules, functions, the app) and more in
its caches (a district's streets, a plan, a crime study), and with the default thresholds a
busy process walks them all every few seconds: pauses of 0.1-0.5 s on an idle machine, over a
second on a loaded one, which a page's p95 sees whole. :func:`settle` moves what is alive
once the process has started out of the collector's reach (it lives as long as the process)
and lets the young generations grow larger before they are collected, so a full collection is
rarer and walks only what was made since."""

from __future__ import annotations

import gc
import threading

#: Net allocations of tracked objects between two collections of the youngest generation
#: (CPython's default is 700): a full collection comes 100 of them apart.
YOUNG_THRESHOLD = 10_000

_SETTLED = False
_LOCK = threading.Lock()


def settle() -> None:
    """Once per process: collect, freeze what is alive, raise the youngest threshold."""
    global _SETTLED
    with _LOCK:
        if _SETTLED:
            return
        _SETTLED = True
    gc.collect()
    gc.freeze()
    _, middle, oldest = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, oldest)
