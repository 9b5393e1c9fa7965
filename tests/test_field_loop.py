"""The field-unit hooks inside the real main loop: power cut while saving, low battery, a week on
a small card, and a stalled camera under `trailcam run` with a real notify socket and a
supervisor that does what systemd does (WatchdogSec=, Restart=always)."""
from __future__ import annotations

import array
import os
import signal
import socket
import struct
import subprocess
import sys
import time
from pathlib import Path

import pytest

from firmware.eventlog import Event, EventLog
from hw_sim.runner import run_scenario

from conftest import REALDATA, REPO

needs_realdata = pytest.mark.skipif(
    not REALDATA.is_dir(), reason=f"real media folder {REALDATA} absent: scenario sprites come from it")

QUIET = """
name = "{name}"
start = 2024-01-15T10:00:00+10:00
duration_s = {duration}
seed = 3
[config]
camera.main_size = [320, 180]
camera.lores_size = [160, 120]
camera.fps = 5
classifier.enabled = false
{config}
{extra}
"""


def _scenario(tmp: Path, name: str, duration: float, config: str = "", extra: str = "") -> Path:
    p = tmp / f"{name}.toml"
    p.write_text(QUIET.format(name=name, duration=duration, config=config, extra=extra))
    return p


def _clip(dst: Path, frames: int = 10) -> None:
    from hw_sim.camera import write_h264

    import numpy as np

    dst.parent.mkdir(parents=True, exist_ok=True)
    write_h264(dst, (np.full((48, 64, 3), i * 20, np.uint8) for i in range(frames)), 10, 200_000)


# --- a power cut between deciding an event and its files reaching their final paths ----------

def test_start_up_finishes_events_a_power_cut_caught_while_saving(tmp_path, mock_factory):
    """Row written `saving` (it names the final paths), then the cut: one clip still in partial/
    and whole, one in partial/ and truncated. Start-up commits the whole one, records the lost
    one, and hands both to the uplink exactly once."""
    from firmware.app import Firmware
    from hw_sim.clock import SimClock
    from hw_sim.coverage import build_sim_uplink
    from hw_sim.hardware import build_sim_hardware
    from hw_sim.runner import sim_config
    from hw_sim.scenario import load_scenario

    from simworld import BlockWorld

    sc = _scenario(tmp_path, "saving", 60, config="uplink.enabled = true\nuplink.mqtt.enabled = true")
    data = tmp_path / "data"
    cfg = sim_config(sc, load_scenario(sc).config, data)
    log = EventLog(data / "events.db")
    rows = []
    for seq, whole in ((1, True), (2, False)):
        ev = Event(id=f"u-{seq}", seq=seq, start=1.7e9, trigger="pir", trigger_time=1.7e9, status="saving",
                   decision="kept", alert=seq == 1, label="amur_leopard", reason="amur_leopard 0.9",
                   clip=f"clips/2023-11-14/u-{seq}.mp4", thumb=f"thumbs/2023-11-14/u-{seq}.jpg", clip_bytes=1)
        part = data / "partial" / f"u-{seq}.mp4"
        _clip(part)
        if not whole:
            part.write_bytes(part.read_bytes()[: part.stat().st_size // 3])
        log.insert(ev)
        rows.append(ev)
    log.close()
    clock = SimClock(1.7e9)
    hw = build_sim_hardware(cfg, BlockWorld(), clock, mock_factory)
    uplink = build_sim_uplink(cfg, data, clock, {})
    fw = Firmware(cfg, hw, clock, data, uplink=uplink)
    try:
        fw.start()
        fw.close()
        log = EventLog(data / "events.db")
        whole, cut = log.get("u-1"), log.get("u-2")
        log.close()
        assert whole.status == cut.status == "done"
        assert whole.clip and (data / whole.clip).is_file() and not (data / "partial" / "u-1.mp4").exists()
        assert cut.clip is None and "clip lost" in cut.reason and not (data / "partial" / "u-2.mp4").exists()
        assert whole.thumb is None  # never written before the cut: not named
        q = uplink.uplink.queue
        assert q.meta("counted_seq") == 2 and q.get("ev-u-1") is not None and q.get("ev-u-2") is not None
        # handed over again (a second cut before `done`): counted once, not twice
        uplink.event(whole, True)
        day = [v for k, v in ((r["name"], r["value"]) for r in q.db.execute("SELECT * FROM uplink_meta"))
               if k.startswith("day-")]
        assert len(day) == 1 and '"kept": 2' in day[0]
    finally:
        uplink.close()
        hw.close()


def test_start_up_removes_half_written_thumbnails_and_photos(tmp_path):
    from firmware.clipstore import ClipStore
    from firmware.fsutil import atomic_write_bytes

    store = ClipStore(tmp_path)
    done = tmp_path / "thumbs/2024-01-20/a.jpg"
    atomic_write_bytes(done, b"jpeg")
    killed = [tmp_path / "thumbs/2024-01-20/.b.jpg.tmp-4242", tmp_path / "health/.2024-01-20.jpg.tmp-77"]
    for k in killed:
        k.parent.mkdir(parents=True, exist_ok=True)
        k.write_bytes(b"half")
    removed = store.recover()
    assert sorted(removed) == sorted(k.name for k in killed)
    assert done.read_bytes() == b"jpeg" and not any(k.exists() for k in killed)


# --- low battery -----------------------------------------------------------------------------

def test_low_battery_holds_optional_uplinks_then_stops_cleanly(tmp_path):
    """1 V an hour from 12.0 V: low-battery mode after ~12 min (optional uplinks stop), below
    critical_v after ~48 min: the loop stops long before the scenario's 3 h."""
    sc = _scenario(tmp_path, "flat", 3 * 3600, config="uplink.enabled = true\nuplink.mqtt.enabled = true",
                   extra="[unit]\nbattery_start_v = 12.0\nbattery_drain_v_per_day = 24.0")
    seen: list[bool] = []

    def extras(cfg, scenario, clock, out_dir):
        from hw_sim.coverage import build_sim_uplink

        up = build_sim_uplink(cfg, out_dir, clock, scenario.coverage)
        real = up.set_low_power

        def spy(on: bool) -> None:
            if not seen or seen[-1] != on:
                seen.append(on)
            real(on)
        up.set_low_power = spy
        return {"uplink": up}

    r = run_scenario(sc, tmp_path / "out", build_extras=extras)
    u = r["unit"]
    assert u["low_battery_stop"] and u["battery_state_end"] == "critical"
    assert 0.7 * 3600 < r["sim_seconds"] < 1.5 * 3600  # 11.2 V is crossed at 48 min (+3 readings)
    assert seen[:2] == [False, True]  # optional uplinks allowed, then held back


def test_run_service_exits_75_on_a_flat_battery(tmp_path):
    """`trailcam run` returns the exit status the unit file treats as "power off, no restart"."""
    sc = _scenario(tmp_path, "flat_run", 3 * 3600,
                   extra="[unit]\nbattery_start_v = 11.0\nbattery_drain_v_per_day = 0")
    conf = tmp_path / "unit.toml"
    conf.write_text(f'hardware = "sim"\n[paths]\ndata_dir = "{tmp_path / "data"}"\n'
                    f'[simulator]\nscenario = "{sc}"\npace = 1000\n[classifier]\nenabled = false\n'
                    '[health]\ninterval_s = 1\nconfirm_readings = 2\n')
    r = subprocess.run([sys.executable, "-m", "firmware.cli", "run", "--config", str(conf)], cwd=REPO,
                       capture_output=True, text=True, timeout=120, env=dict(os.environ, PYTHONPATH=str(REPO)))
    assert r.returncode == 75, r.stderr[-2000:]
    assert "critical_v" in r.stderr


# --- a week on a small card ------------------------------------------------------------------

@needs_realdata
def test_small_disk_week_keeps_every_leopard_clip_and_never_stops_capturing(tmp_path):
    from firmware.runtime import sim_parts

    # as `trailcam sim` runs it: the real classifier labels the events the guard ranks by value
    r = run_scenario(REPO / "hw_sim" / "scenarios" / "small_disk_week.toml", tmp_path / "out",
                     build_extras=sim_parts)
    u, m = r["unit"], r["metrics"]
    assert u["clips_deleted"] > 0, "the card never filled: the scenario tests nothing"
    assert m["target_events"] == 3 and m["target_recall"] == 1.0
    assert u["target_clips_kept"] == 3 and u["target_clips_deleted"] == 0
    assert u["pir_windows_missed"] == 0 and u["pir_windows"] == r["triggers"]
    assert u["disk_free_mb_end"] >= 6  # the floor held
    assert u["health_photos"] == 7


# --- a stalled camera under `trailcam run`, supervised as systemd would ----------------------

class Supervisor:
    """What systemd does for Type=notify, WatchdogSec=, Restart=always: start the service, wait
    for READY=1, kill it with SIGABRT when WATCHDOG=1 stops for WatchdogSec, start it again.
    Datagrams are attributed by the sender's pid (SO_PASSCRED), as NotifyAccess=main does."""

    def __init__(self, tmp: Path, cmd: list[str], watchdog_s: float):
        self.cmd, self.watchdog_s = cmd, watchdog_s
        self.path = tmp / "notify.sock"
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(self.path))
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
        self.log: list[tuple[int, float, str]] = []  # (pid, time, message)
        self.proc: subprocess.Popen | None = None

    def start(self) -> subprocess.Popen:
        env = dict(os.environ, PYTHONPATH=str(REPO), NOTIFY_SOCKET=str(self.path),
                   WATCHDOG_USEC=str(int(self.watchdog_s * 1e6)))
        self.proc = subprocess.Popen(self.cmd, cwd=REPO, env=env, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE)
        return self.proc

    def receive(self, timeout: float) -> tuple[int, str] | None:
        self.sock.settimeout(timeout)
        try:
            data, anc, _flags, _addr = self.sock.recvmsg(4096, socket.CMSG_SPACE(struct.calcsize("3i")))
        except socket.timeout:
            return None
        pid = -1
        for level, kind, payload in anc:
            if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
                pid = array.array("i", payload[:12])[0]
        msg = data.decode()
        self.log.append((pid, time.monotonic(), msg))
        return pid, msg

    def supervise(self, deadline_s: float) -> str:
        """Run one service instance: 'watchdog' when it was killed for missed pings."""
        proc, end = self.proc, time.monotonic() + deadline_s
        ready = False
        last = time.monotonic()
        while time.monotonic() < end:
            got = self.receive(0.2)
            if got is not None and got[0] == proc.pid:
                if got[1].startswith("READY=1"):
                    ready, last = True, time.monotonic()
                elif got[1] == "WATCHDOG=1":
                    last = time.monotonic()
            if ready and time.monotonic() - last > self.watchdog_s:
                proc.send_signal(signal.SIGABRT)  # systemd's watchdog action
                proc.wait(timeout=30)
                return "watchdog"
            if proc.poll() is not None:
                return f"exited {proc.returncode}"
        return "deadline"

    def close(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if self.proc is not None and self.proc.stderr:
            self.proc.stderr.close()
        self.sock.close()


def test_stalled_camera_stops_watchdog_pings_and_the_service_is_restarted(tmp_path):
    sc = _scenario(tmp_path, "stall", 3600, extra="[[camera_stall]]\nat = 8\n")
    conf = tmp_path / "unit.toml"
    conf.write_text(f'hardware = "sim"\n[paths]\ndata_dir = "{tmp_path / "data"}"\n'
                    f'[simulator]\nscenario = "{sc}"\npace = 1\n[classifier]\nenabled = false\n')
    sup = Supervisor(tmp_path, [sys.executable, "-m", "firmware.cli", "run", "--config", str(conf)],
                     watchdog_s=2.0)
    try:
        first = sup.start()
        assert sup.supervise(deadline_s=90) == "watchdog"
        assert first.returncode == -signal.SIGABRT
        mine = [(t, m) for pid, t, m in sup.log if pid == first.pid]
        assert mine[0][1].startswith("READY=1")
        pings = [t for t, m in mine if m == "WATCHDOG=1"]
        assert len(pings) >= 4, mine  # ~1 s apart while frames flowed (8 s before the stall)
        # after the stall: no ping for longer than WatchdogSec, though the loop kept running
        assert time.monotonic() - pings[-1] > 2.0
        err = first.stderr.read().decode(errors="replace")
        assert "camera" in err and "stalled" in err
        # Restart=always: the next instance comes up, announces itself, pings again
        second = sup.start()
        assert sup.supervise(deadline_s=6) in ("deadline", "watchdog")
        again = [m for pid, _t, m in sup.log if pid == second.pid]
        assert again and again[0].startswith("READY=1") and "WATCHDOG=1" in again
    finally:
        sup.close()
