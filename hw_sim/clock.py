"""A simulated clock that jumps across quiet time.

Things that happen in the simulated world (a PIR edge, a light change, coverage coming up) are
scheduled on the clock; `sleep` and `wait` run them in time order while advancing simulated
time, so code that waits on the clock sees the world change exactly as on a unit, without the
wall-clock wait. Single-threaded by design: callbacks run in the thread that advances time.
"""
from __future__ import annotations

import heapq
import itertools
import threading
import time
from typing import Callable


class SimClock:
    def __init__(self, start_epoch: float, monotonic_origin: float = 1000.0, pace: float | None = None):
        """`pace`: None jumps across quiet time; a number runs that many simulated seconds per
        wall second (1.0 = real time, for `trailcam run` with `hardware = "sim"`)."""
        self.pace = pace
        self._epoch0 = start_epoch
        self._origin = monotonic_origin
        self._t = 0.0  # seconds since the simulation started
        self._queue: list[tuple[float, int, Callable[[], None]]] = []
        self._seq = itertools.count()
        self._lock = threading.RLock()

    # --- Clock protocol -------------------------------------------------------------------
    def now(self) -> float:
        return self._epoch0 + self._t

    def monotonic(self) -> float:
        return self._origin + self._t

    def sleep(self, seconds: float) -> None:
        self.advance_to(self._t + max(0.0, seconds))

    def wait(self, event: threading.Event, timeout: float | None) -> bool:
        """Advance until `event` is set or `timeout` simulated seconds pass.

        With no timeout and nothing scheduled that could set the event, returns False at once
        rather than hang (the simulated world has ended).
        """
        end = None if timeout is None else self._t + timeout
        while not event.is_set():
            nxt = self._queue[0][0] if self._queue else None
            if nxt is None or (end is not None and nxt > end):
                if end is not None:
                    if self._pace_until(end, event):
                        return True
                    self._t = max(self._t, end)
                return event.is_set()
            if self._pace_until(nxt, event):
                return True
            self._run_next()
        return True

    # --- simulator side -------------------------------------------------------------------
    @property
    def elapsed(self) -> float:
        """Simulated seconds since the start."""
        return self._t

    def call_at(self, elapsed: float, fn: Callable[[], None]) -> None:
        """Run `fn` when the simulation reaches `elapsed` seconds (or at once if past)."""
        with self._lock:
            heapq.heappush(self._queue, (max(elapsed, self._t), next(self._seq), fn))

    def call_later(self, delay: float, fn: Callable[[], None]) -> None:
        self.call_at(self._t + delay, fn)

    def _pace_until(self, elapsed: float, event: threading.Event | None = None) -> bool:
        """In paced mode, spend the wall time up to `elapsed`; True if `event` got set meanwhile
        (by another thread, e.g. a SIGTERM handler), with simulated time advanced accordingly."""
        if self.pace is None or elapsed <= self._t:
            return False

        wall0 = time.monotonic()
        timeout = (elapsed - self._t) / self.pace
        woke = event.wait(timeout) if event is not None else (time.sleep(timeout) or False)
        if woke:
            self._t = min(elapsed, self._t + (time.monotonic() - wall0) * self.pace)
        return bool(woke)

    def advance_to(self, elapsed: float) -> None:
        if self.pace is not None:
            while self._queue and self._queue[0][0] <= elapsed:
                self._pace_until(self._queue[0][0])
                self._run_next()
            self._pace_until(elapsed)
        while self._queue and self._queue[0][0] <= elapsed:
            self._run_next()
        self._t = max(self._t, elapsed)

    def _run_next(self) -> None:
        with self._lock:
            at, _, fn = heapq.heappop(self._queue)
        self._t = max(self._t, at)
        fn()
