"""sd_notify against a real Unix datagram socket; the frame-fed watchdog on an injected clock;
a supervised process whose camera stalls gets restarted by a watchdog like systemd's."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from firmware.fieldunit.notify import Notifier, Watchdog, watchdog_interval
from hw_sim.clock import SimClock

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def notify_socket(tmp_path):
    path = tmp_path / "notify.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    sock.settimeout(5)
    yield str(path), sock
    sock.close()


def test_ready_status_watchdog_stopping_arrive_as_datagrams(notify_socket):
    path, sock = notify_socket
    n = Notifier({"NOTIFY_SOCKET": path})
    assert n.enabled
    assert n.ready("camera up")
    assert sock.recv(4096) == b"READY=1\nSTATUS=camera up"
    n.status("armed,\n 3 events")
    assert sock.recv(4096) == b"STATUS=armed, 3 events"
    n.watchdog()
    assert sock.recv(4096) == b"WATCHDOG=1"
    n.stopping()
    assert sock.recv(4096) == b"STOPPING=1"
    n.close()


def test_abstract_socket_with_leading_at():
    name = f"trailcam-test-{os.getpid()}-{time.monotonic_ns()}"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(b"\0" + name.encode())
    sock.settimeout(5)
    try:
        n = Notifier({"NOTIFY_SOCKET": "@" + name})
        n.ready()
        assert sock.recv(4096) == b"READY=1"
        n.close()
    finally:
        sock.close()


def test_no_socket_means_no_op_and_bad_values_are_refused():
    n = Notifier({})
    assert not n.enabled and n.ready() is False
    with pytest.raises(ValueError, match="absolute path"):
        Notifier({"NOTIFY_SOCKET": "relative/sock"})
    with pytest.raises(ValueError):
        Notifier({"NOTIFY_SOCKET": "/x"}).send("no equals sign")


def test_watchdog_interval_is_half_of_watchdog_usec_for_this_pid():
    assert watchdog_interval({"WATCHDOG_USEC": "30000000"}) == 15.0
    assert watchdog_interval({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "42"}, pid=42) == 15.0
    assert watchdog_interval({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "43"}, pid=42) is None
    assert watchdog_interval({}) is None
    with pytest.raises(ValueError):
        watchdog_interval({"WATCHDOG_USEC": "0"})


def test_watchdog_pings_only_while_frames_flow(notify_socket):
    path, sock = notify_socket
    sock.settimeout(0)
    clock = SimClock(1.7e9)
    wd = Watchdog.from_env(clock, {"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "30000000"})
    assert wd.interval == 15 and wd.max_frame_age == 30
    assert not wd.tick(), "no frame yet: no ping"
    received = []
    for _second in range(120):  # frames at 1 fps for two minutes
        wd.frame()
        wd.tick()
        clock.sleep(1)
    while True:
        try:
            received.append(sock.recv(64))
        except BlockingIOError:
            break
    assert received == [b"WATCHDOG=1"] * wd.pings
    assert 7 <= wd.pings <= 9  # one every 15 s over 120 s
    # the camera stalls: frames stop, the loop keeps turning
    before = wd.pings
    for _ in range(120):
        wd.tick()
        clock.sleep(1)
    # at most the pings within max_frame_age of the last frame, then none
    assert wd.pings - before <= 2
    last = wd.pings
    for _ in range(600):
        wd.tick()
        clock.sleep(1)
    assert wd.pings == last and wd.withheld > 0
    # frames come back: pings resume
    wd.frame()
    assert wd.tick()


CHILD = textwrap.dedent("""
    import sys, threading
    from firmware.clock import RealClock
    from firmware.fieldunit.notify import Notifier, Watchdog
    clock = RealClock()
    wd = Watchdog.from_env(clock)
    n = wd.notifier
    stall_after = float(sys.argv[1])
    start = clock.monotonic()
    n.ready("camera up")
    stop = threading.Event()
    while True:
        if stall_after < 0 or clock.monotonic() - start < stall_after:
            wd.frame()          # a frame from the camera
        wd.tick()
        clock.wait(stop, 0.05)
""")


def _supervise(sock, proc, watchdog_s, deadline):
    """What systemd does with WatchdogSec=: a process that stays silent that long is killed.
    Returns the messages seen and whether the watchdog fired."""
    seen = []
    last = time.monotonic()
    while time.monotonic() < deadline:
        sock.settimeout(0.1)
        try:
            seen.append(sock.recv(4096).decode())
            if seen[-1] == "WATCHDOG=1" or seen[-1].startswith("READY=1"):
                last = time.monotonic()
        except TimeoutError:
            pass
        if time.monotonic() - last > watchdog_s:
            proc.kill()
            proc.wait()
            return seen, True
    return seen, False


def test_stalled_camera_stops_pings_and_the_service_is_restarted(notify_socket):
    path, sock = notify_socket
    watchdog_s = 2.0
    env = dict(os.environ, NOTIFY_SOCKET=path, WATCHDOG_USEC=str(int(watchdog_s * 1e6)),
               PYTHONPATH=str(REPO))
    restarts = 0
    stall_after = ["1.5", "-1"]  # first run: camera dies after 1.5 s; second run: healthy
    histories = []
    for run in stall_after:
        proc = subprocess.Popen([sys.executable, "-c", CHILD, run], env=env, cwd=REPO)
        try:
            seen, fired = _supervise(sock, proc, watchdog_s, time.monotonic() + 12)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        histories.append((seen, fired))
        if fired:
            restarts += 1
    (seen1, fired1), (seen2, fired2) = histories
    assert seen1[0].startswith("READY=1") and "WATCHDOG=1" in seen1
    assert fired1, "the stalled camera kept the watchdog fed"
    assert restarts == 1
    assert seen2[0].startswith("READY=1") and not fired2
    assert seen2.count("WATCHDOG=1") >= 5
