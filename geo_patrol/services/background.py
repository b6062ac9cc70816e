"""Threads a process runs beside its requests (the job worker, the notification sender): at
most one alive per key, each told to stop by its own event, all stopped together."""

from __future__ import annotations

import threading
from collections.abc import Callable


class Background:
    """The threads of one kind (named ``name``) this process runs, by key."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._lock = threading.Lock()
        self._running: dict[str, tuple[threading.Thread, threading.Event]] = {}

    def ensure(self, key: str, target: Callable[[threading.Event], None]) -> None:
        """``target(stop)`` on a daemon thread of its own, unless the thread of ``key`` is
        alive."""
        with self._lock:
            if key in self._running and self._running[key][0].is_alive():
                return
            stop = threading.Event()
            thread = threading.Thread(target=target, args=(stop,), name=self.name,
                                      daemon=True)
            self._running[key] = (thread, stop)
        thread.start()

    def stop(self, timeout: float) -> None:
        """Tell every thread to stop, then wait for each at most ``timeout`` seconds."""
        with self._lock:
            running = list(self._running.values())
            self._running.clear()
        for _, stop in running:
            stop.set()
        for thread, _ in running:
            thread.join(timeout=timeout)
