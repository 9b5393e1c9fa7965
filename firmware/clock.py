"""The clock seam: every wait and every timestamp above the hardware seam goes through a Clock.

On a unit it is `RealClock`; in the simulator it is `hw_sim.clock.SimClock`, which jumps across
quiet time so a simulated day runs in seconds.
"""
from __future__ import annotations

import re
import threading
import time
from datetime import datetime, timezone
from typing import Protocol


class Clock(Protocol):
    def now(self) -> float:
        """Wall time, seconds since the Unix epoch (UTC)."""

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back (frame timestamps use it)."""

    def sleep(self, seconds: float) -> None:
        """Wait this long (a simulator advances its time instead)."""

    def wait(self, event: threading.Event, timeout: float | None) -> bool:
        """Wait until `event` is set or `timeout` passes; return whether it is set."""


class RealClock:
    """The machine's own clocks."""

    def now(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)

    def wait(self, event: threading.Event, timeout: float | None) -> bool:
        return event.wait(timeout)


def parse_hhmm(text: str) -> tuple[int, int]:
    """A local clock time 'HH:MM' as (hour, minute); ValueError when it is not one."""
    m = re.fullmatch(r"(\d{1,2}):(\d{2})", text)
    if not m or int(m.group(1)) > 23 or int(m.group(2)) > 59:
        raise ValueError("expected a local time 'HH:MM' (00:00..23:59)")
    return int(m.group(1)), int(m.group(2))


def iso(ts: float) -> str:
    """ISO 8601 with zone, second resolution plus milliseconds."""
    return datetime.fromtimestamp(ts, tz=timezone.utc).isoformat(timespec="milliseconds")
