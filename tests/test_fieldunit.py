"""The bundled field-unit hooks on simulator hardware with a real notify socket."""
from __future__ import annotations

import socket
from pathlib import Path

import pytest

from firmware.eventlog import EventLog
from firmware.fieldunit.unit import FieldUnit
from hw_sim.clock import SimClock
from hw_sim.hardware import build_sim_hardware
from hw_sim.runner import sim_config
from hw_sim.scenario import load_scenario

REPO = Path(__file__).resolve().parent.parent
SCENARIO = REPO / "hw_sim" / "scenarios" / "night_leopard.toml"
REALDATA = REPO.parent / "shared" / "realdata"  # as in conftest.py


@pytest.mark.skipif(not REALDATA.is_dir(), reason=f"real media folder {REALDATA} absent")
def test_ready_watchdog_status_and_health_photo(tmp_path, mock_factory):
    from hw_sim.scene import Scene

    sock_path = tmp_path / "notify.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(sock_path))
    sock.settimeout(0)
    scenario = load_scenario(SCENARIO)
    data = tmp_path / "data"
    cfg = sim_config(SCENARIO, scenario.config, data,
                     {"health": {"photo_time": "17:00", "interval_s": 60}})
    clock = SimClock(scenario.start_epoch)
    hw = build_sim_hardware(cfg, Scene(scenario, REALDATA), clock, mock_factory)
    events = EventLog(data / "events.db")
    fu = FieldUnit(cfg, hw, clock, data, events,
                   env={"NOTIFY_SOCKET": str(sock_path), "WATCHDOG_USEC": "30000000"})
    try:
        hw.camera.start()
        fu.started()
        got = []
        for _ in range(120):  # two simulated minutes with frames at 1 fps
            hw.camera.capture_lores()
            fu.frame()
            fu.tick()
            fu.periodic()
            clock.sleep(1)
        while True:
            try:
                got.append(sock.recv(4096).decode())
            except BlockingIOError:
                break
        assert got[0].startswith("READY=1")
        assert got.count("WATCHDOG=1") == fu.watchdog.pings >= 7
        status = [g for g in got if g.startswith("STATUS=") and "V" in g]
        assert status and "fps" in status[-1]
        # the scenario starts at 17:00 local: the day's health photo was taken
        assert list((data / "health").glob("*.jpg"))
        assert not fu.shutdown_requested and fu.optional_uplinks_allowed
    finally:
        hw.camera.stop()
        hw.close()
        events.close()
        sock.close()
