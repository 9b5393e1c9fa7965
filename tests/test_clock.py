"""The simulated clock jumps across quiet time and runs the world's changes in order."""
from __future__ import annotations

import threading

from hw_sim.clock import SimClock


def test_wait_jumps_to_the_event_that_sets_it():
    clock = SimClock(start_epoch=1_700_000_000.0)
    ev = threading.Event()
    seen = []
    clock.call_at(50.0, lambda: seen.append(("a", clock.elapsed)))
    clock.call_at(3600.0, ev.set)
    assert clock.wait(ev, timeout=None)
    assert clock.elapsed == 3600.0
    assert seen == [("a", 50.0)]
    assert clock.now() == 1_700_000_000.0 + 3600.0


def test_wait_times_out_without_running_later_events():
    clock = SimClock(start_epoch=0.0)
    ev = threading.Event()
    clock.call_at(100.0, ev.set)
    assert not clock.wait(ev, timeout=30.0)
    assert clock.elapsed == 30.0 and not ev.is_set()
    clock.sleep(80.0)
    assert ev.is_set() and clock.elapsed == 110.0


def test_paced_clock_spends_wall_time():
    import time

    clock = SimClock(start_epoch=0.0, pace=100.0)
    t0 = time.monotonic()
    clock.sleep(5.0)  # 5 simulated seconds at 100x = 50 ms
    assert 0.04 <= time.monotonic() - t0 < 1.0
    assert clock.elapsed == 5.0
