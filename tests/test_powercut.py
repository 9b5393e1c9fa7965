"""Power-cut safety: a few SIGKILLs of `trailcam sim` (the benchmark does >= 200), and the
harness's checks shown to catch what they look for."""
from __future__ import annotations

import importlib.util
import shutil
import sqlite3
import sys
from pathlib import Path

import pytest



REPO = Path(__file__).resolve().parent.parent
spec = importlib.util.spec_from_file_location("bench_powercut", REPO / "bench" / "bench_powercut.py")
pc = importlib.util.module_from_spec(spec)
sys.modules["bench_powercut"] = pc  # dataclasses need the module registered under its name
spec.loader.exec_module(pc)

SCENARIO = REPO / "hw_sim" / "scenarios" / "powercut.toml"  # uplink on: the queue is exercised
REALDATA = REPO.parent / "shared" / "realdata"  # as in conftest.py


@pytest.mark.skipif(not REALDATA.is_dir(), reason=f"real media folder {REALDATA} absent: the "
                                                   "scenario's sprites come from it")
def test_random_power_cuts_lose_nothing(tmp_path):
    c = pc.run_harness(SCENARIO, cuts=3, seed=7, data=tmp_path / "data", min_s=0.5, max_s=3.0,
                       verbose=False)
    assert c.cuts == 3 and c.runs_completed >= 1
    assert c.clips_checked > 0 and c.events_checked > 0 and c.queue_entries_checked > 0
    assert (c.corrupt_clips, c.inconsistencies, c.lost_queue_entries) == (0, 0, 0), c.problems


def _sample_clip(dst: Path) -> None:
    import av
    import numpy as np

    dst.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(dst), "w") as box:
        s = box.add_stream("libx264", rate=10)
        s.width, s.height, s.pix_fmt = 64, 48, "yuv420p"
        for i in range(20):
            f = av.VideoFrame.from_ndarray(np.full((48, 64, 3), i * 10, np.uint8), format="rgb24")
            for p in s.encode(f):
                box.mux(p)
        for p in s.encode():
            box.mux(p)


def test_checker_finds_corrupt_clips_orphans_and_lost_queue_entries(tmp_path):
    from firmware.eventlog import Event, EventLog

    data = tmp_path
    log = EventLog(data / "events.db")
    good = data / "clips/2024-01-15/a.mp4"
    _sample_clip(good)
    ev = Event(id="a", seq=1, start=0, trigger="pir", trigger_time=0, status="done",
               decision="kept", clip="clips/2024-01-15/a.mp4", clip_bytes=good.stat().st_size)
    log.insert(ev)
    log.close()
    c = pc.Counts()
    pc.check_data_dir(data, c, {})
    assert (c.clips_checked, c.corrupt_clips, c.inconsistencies) == (1, 0, 0), c.problems
    # a clip cut short at its final name: playable-looking, corrupt
    bad = data / "clips/2024-01-15/b.mp4"
    bad.write_bytes(good.read_bytes()[: good.stat().st_size // 3])
    c = pc.Counts()
    pc.check_data_dir(data, c, {})
    assert c.corrupt_clips == 1 and c.inconsistencies == 1  # corrupt, and no event names it
    bad.unlink()
    # the logged clip is gone
    shutil.move(good, data / "elsewhere.mp4")
    c = pc.Counts()
    pc.check_data_dir(data, c, {})
    assert c.inconsistencies == 1 and "missing" in c.problems[0]
    # a queue entry seen before a cut and gone after it, with nothing sent or dropped
    q = sqlite3.connect(data / "uplink.db")
    q.executescript("CREATE TABLE outbox (id TEXT PRIMARY KEY);"
                    "CREATE TABLE uplink_meta (name TEXT PRIMARY KEY, value TEXT);"
                    "INSERT INTO outbox VALUES ('m1'), ('m2');"
                    "INSERT INTO uplink_meta VALUES ('counted_seq', '1');")
    q.commit()
    seen: dict[str, int] = {}
    c = pc.Counts()
    pc.check_data_dir(data, c, seen)
    assert c.lost_queue_entries == 0 and set(seen) == {"m1", "m2"}
    q.execute("DELETE FROM outbox WHERE id='m2'")
    q.commit()
    q.close()
    c = pc.Counts()
    pc.check_data_dir(data, c, seen)
    assert c.lost_queue_entries == 1 and "m2 vanished" in c.problems[-1]
    # the queue says one message left (sent and confirmed): then m2 is accounted for
    seen = {"m1": 1, "m2": 1}
    q = sqlite3.connect(data / "uplink.db")
    q.execute("INSERT INTO uplink_meta VALUES ('removed', '1')")
    # a finished event the uplink never took (a cut between the event log and the queue)
    q.execute("UPDATE uplink_meta SET value = '0' WHERE name = 'counted_seq'")
    q.commit()
    q.close()
    c = pc.Counts()
    pc.check_data_dir(data, c, seen)
    assert c.lost_queue_entries == 1 and "never took it" in c.problems[-1], c.problems
