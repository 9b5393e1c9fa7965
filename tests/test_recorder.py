"""The recorder: pre-roll before the trigger, event end, atomic clips, power-cut safety."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import av

from firmware.app import Firmware
from firmware.eventlog import EventLog
from hw_sim.clock import SimClock
from hw_sim.hardware import build_sim_hardware, drive_pir
from hw_sim.runner import sim_config

from simworld import BlockWorld

REPO = Path(__file__).resolve().parent.parent
START = 1_790_000_000.0


def _firmware(tmp_path, world, mock_factory, overrides=None, duration=40.0):
    cfg = sim_config(Path("test.toml"), overrides or {}, tmp_path)
    clock = SimClock(START)
    hw = build_sim_hardware(cfg, world, clock, mock_factory)
    drive_pir(clock, mock_factory, cfg.pir.pin, world.pir_windows())
    fw = Firmware(cfg, hw, clock, tmp_path)
    clock.call_at(duration, fw.request_stop)
    return fw, cfg, clock


def _run(fw):
    try:
        fw.run()
    finally:
        fw.hw.close()


def test_kept_clip_starts_a_pre_roll_before_the_trigger(tmp_path, mock_factory):
    fw, cfg, clock = _firmware(tmp_path, BlockWorld(enter=5.0), mock_factory)
    _run(fw)
    events = list(EventLog(tmp_path / "events.db").all())
    assert len(events) == 1
    ev = events[0]
    assert ev.decision == "kept", ev.reason
    assert ev.trigger == "pir" and abs(ev.trigger_time - (START + 10.0)) < 1e-6
    # the clip's first frame precedes the PIR by the pre-roll (within one frame)
    lead = ev.trigger_time - ev.start
    assert cfg.recorder.pre_roll_s - 1 / cfg.camera.fps <= lead <= cfg.recorder.pre_roll_s + 1e-6
    clip = tmp_path / ev.clip
    with av.open(str(clip)) as c:
        meta = json.loads(c.metadata["comment"])
        frames = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    duration = (ev.end - ev.start)
    assert abs(len(frames) - duration * cfg.camera.fps) <= 2
    # the first frame of the file shows the world 3 s before the PIR: the block already in view
    first = frames[0]
    h, w = first.shape[:2]
    x = BlockWorld(enter=5.0).block_x(10.0 - cfg.recorder.pre_roll_s)
    col = int((x + 0.05) * w)
    assert first[int(0.55 * h), col].mean() < 60, "pre-roll frame does not show the block where it was"
    assert meta["first_frame_us"] > 0
    assert (tmp_path / ev.thumb).stat().st_size > 0
    # nothing left in the temp dir
    assert not any((tmp_path / "partial").iterdir())


def test_pir_without_pixel_motion_is_discarded_with_reason(tmp_path, mock_factory):
    fw, _, _ = _firmware(tmp_path, BlockWorld(enter=None), mock_factory)
    _run(fw)
    (ev,) = list(EventLog(tmp_path / "events.db").all())
    assert ev.decision == "discarded"
    assert ev.clip is None and "false trigger" in ev.reason
    assert not list((tmp_path / "clips").glob("*/*.mp4"))


def test_retrigger_extends_the_event_and_max_clip_cuts_it(tmp_path, mock_factory):
    world = BlockWorld(enter=None, pir=((10.0, 12.0), (15.0, 17.0), (20.0, 22.0)))
    fw, cfg, _ = _firmware(tmp_path, world, mock_factory, duration=60.0)
    _run(fw)
    events = list(EventLog(tmp_path / "events.db").all())
    assert len(events) == 1, [e.reason for e in events]
    assert events[0].end - START >= 22.0 + cfg.recorder.post_roll_s - 0.5
    world = BlockWorld(enter=None, pir=((10.0, 200.0),))
    out = tmp_path / "long"
    fw, cfg, _ = _firmware(out, world, mock_factory, {"recorder": {"max_clip_s": 20}}, duration=100.0)
    _run(fw)
    first = list(EventLog(out / "events.db").all())[0]
    assert first.end - first.start <= 20.0 + 0.5
    assert "max_clip_s" in first.reason


SLOW_CHILD = r"""
import sys, time
sys.path.insert(0, sys.argv[2])
from pathlib import Path
from gpiozero.pins.mock import MockFactory, MockPWMPin
from firmware.app import Firmware
from hw_sim.clock import SimClock
from hw_sim.hardware import build_sim_hardware, drive_pir
from hw_sim.runner import sim_config
from simworld import BlockWorld

class SlowWorld(BlockWorld):
    def render(self, t, size, ir, leds_on):
        if size[0] >= 640:
            time.sleep(0.02)   # encoding takes long enough to be killed in the middle
        return super().render(t, size, ir, leds_on)

out = Path(sys.argv[1])
cfg = sim_config(Path("t.toml"), {}, out)
clock = SimClock(1_790_000_000.0)
f = MockFactory(pin_class=MockPWMPin)
world = SlowWorld()
hw = build_sim_hardware(cfg, world, clock, f)
drive_pir(clock, f, cfg.pir.pin, world.pir_windows())
fw = Firmware(cfg, hw, clock, out)
clock.call_at(40.0, fw.request_stop)
fw.run()
"""


def test_no_partial_clip_after_a_kill_during_writing(tmp_path, mock_factory):
    out = tmp_path / "unit"
    child = subprocess.Popen([sys.executable, "-c", SLOW_CHILD, str(out), str(Path(__file__).parent)],
                             cwd=REPO)
    tmp_dir = out / "partial"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        parts = list(tmp_dir.glob("*.mp4")) if tmp_dir.exists() else []
        if parts and parts[0].stat().st_size > 0:
            break
        assert child.poll() is None, "child ended before it was killed"
        time.sleep(0.02)
    else:
        child.kill()
        raise AssertionError("the clip never started being written")
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    # after the cut: no clip that looks finished, the event row says it was recording
    assert not list((out / "clips").glob("*/*.mp4"))
    (ev,) = list(EventLog(out / "events.db").all())
    assert ev.status == "recording"
    # restart: the half clip is removed and the event marked interrupted, nothing else lost
    fw, _, _ = _firmware(out, BlockWorld(enter=None, pir=()), mock_factory, duration=5.0)
    _run(fw)
    assert not any(tmp_dir.iterdir())
    (ev,) = list(EventLog(out / "events.db").all())
    assert ev.status == "interrupted" and "interrupted" in ev.reason
