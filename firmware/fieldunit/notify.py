"""systemd notification protocol (sd_notify) without a library, and a frame-fed watchdog.

systemd passes `NOTIFY_SOCKET` (a Unix datagram socket path; a leading `@` means the abstract
namespace) and, with `WatchdogSec=`, `WATCHDOG_USEC` (and `WATCHDOG_PID`). A service sends
`READY=1` once it works, `WATCHDOG=1` at least every `WATCHDOG_USEC`, `STATUS=...` for
`systemctl status` and `STOPPING=1` when it shuts down. Each message is one datagram of
newline-separated `KEY=VALUE` lines.

`Watchdog` is what the main loop feeds: it pings only while camera frames keep arriving, so a
stalled camera stops the pings and systemd restarts the service.
"""
from __future__ import annotations

import os
import socket
from typing import Mapping

from ..clock import Clock


class Notifier:
    """Sends sd_notify datagrams to `$NOTIFY_SOCKET`; does nothing when it is not set."""

    def __init__(self, env: Mapping[str, str] | None = None):
        env = os.environ if env is None else env
        self.address = _socket_address(env.get("NOTIFY_SOCKET", ""))
        self._sock: socket.socket | None = None

    @property
    def enabled(self) -> bool:
        return self.address is not None

    def send(self, *lines: str) -> bool:
        """Send one datagram; True when it was sent, False when there is no socket to send to."""
        if self.address is None:
            return False
        for line in lines:
            if "\n" in line or "=" not in line:
                raise ValueError(f"sd_notify lines are KEY=VALUE without newlines, got {line!r}")
        if self._sock is None:
            self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
        self._sock.sendto("\n".join(lines).encode("utf-8"), self.address)
        return True

    def ready(self, status: str | None = None) -> bool:
        return self.send("READY=1", *([f"STATUS={_one_line(status)}"] if status else []))

    def status(self, text: str) -> bool:
        return self.send(f"STATUS={_one_line(text)}")

    def watchdog(self) -> bool:
        return self.send("WATCHDOG=1")

    def stopping(self, status: str | None = None) -> bool:
        return self.send("STOPPING=1", *([f"STATUS={_one_line(status)}"] if status else []))

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None


def _socket_address(value: str) -> str | bytes | None:
    if not value:
        return None
    if value.startswith("@"):
        return b"\0" + value[1:].encode("utf-8")  # abstract namespace
    if not value.startswith("/"):
        raise ValueError(f"NOTIFY_SOCKET must be an absolute path or start with '@', got {value!r}")
    return value


def _one_line(text: str) -> str:
    return " ".join(text.split())


def watchdog_interval(env: Mapping[str, str] | None = None, pid: int | None = None) -> float | None:
    """Seconds between `WATCHDOG=1` pings: half of `WATCHDOG_USEC`, or None when systemd set no
    watchdog for this process (no `WATCHDOG_USEC`, or a `WATCHDOG_PID` naming another process)."""
    env = os.environ if env is None else env
    usec = env.get("WATCHDOG_USEC", "")
    if not usec:
        return None
    wpid = env.get("WATCHDOG_PID", "")
    if wpid and int(wpid) != (os.getpid() if pid is None else pid):
        return None
    value = int(usec)
    if value <= 0:
        raise ValueError(f"WATCHDOG_USEC must be positive, got {usec!r}")
    return value / 1e6 / 2


class Watchdog:
    """Pings systemd's watchdog only while frames are flowing.

    The main loop calls `frame()` for every frame it gets from the camera and `tick()` as often
    as it likes (every loop turn); `tick()` sends `WATCHDOG=1` at most once per `interval` and
    only when the newest frame is younger than `max_frame_age` seconds. A camera that stops
    delivering frames therefore stops the pings, and systemd (`WatchdogSec=`) restarts the unit.
    Times come from the injected clock's monotonic time.
    """

    def __init__(self, notifier: Notifier, clock: Clock, interval: float | None,
                 max_frame_age: float | None = None):
        self.notifier = notifier
        self.clock = clock
        self.interval = interval
        # a frame older than the watchdog period means the camera is stuck
        self.max_frame_age = max_frame_age if max_frame_age is not None else (
            2 * interval if interval else 30.0)
        self.last_frame: float | None = None
        self.last_ping: float | None = None
        self.pings = 0
        self.withheld = 0

    @classmethod
    def from_env(cls, clock: Clock, env: Mapping[str, str] | None = None,
                 max_frame_age: float | None = None) -> "Watchdog":
        return cls(Notifier(env), clock, watchdog_interval(env), max_frame_age)

    @property
    def enabled(self) -> bool:
        return self.interval is not None and self.notifier.enabled

    def frame(self, when: float | None = None) -> None:
        """A frame arrived (at `when`, the clock's monotonic seconds; default: now)."""
        self.last_frame = self.clock.monotonic() if when is None else when

    def frames_flowing(self) -> bool:
        if self.last_frame is None:
            return False
        return self.clock.monotonic() - self.last_frame <= self.max_frame_age

    def due_in(self) -> float | None:
        """Seconds until the next ping is due (0 = now); None without a watchdog. An idle main
        loop waits at most this long on the PIR, then grabs a lores frame and calls `tick()`."""
        if not self.enabled:
            return None
        if self.last_ping is None:
            return 0.0
        return max(0.0, self.last_ping + self.interval - self.clock.monotonic())

    def tick(self) -> bool:
        """Send a ping if one is due and frames are flowing; True when one was sent."""
        if not self.enabled:
            return False
        now = self.clock.monotonic()
        if self.last_ping is not None and now - self.last_ping < self.interval:
            return False
        if not self.frames_flowing():
            self.withheld += 1
            return False
        self.notifier.watchdog()
        self.last_ping = now
        self.pings += 1
        return True
