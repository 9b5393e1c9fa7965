"""Storage guard: deletes by value, logs every deletion, never stops capturing."""
from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from firmware.eventlog import Event, EventLog
from firmware.fieldunit.config import StorageConfig
from firmware.fieldunit.storage import MB, FolderDisk, StorageGuard, deleted_parts
from hw_sim.clock import SimClock

KB = 1024


def _write(path: Path, size: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\0" * size)


def _event(log: EventLog, data: Path, clock: SimClock, label: str | None, decision: str,
           clip_size: int, thumb_size: int = 20 * KB) -> Event:
    seq = log.next_seq()
    ev = Event(id=f"ev{seq:05d}", seq=seq, start=clock.now(), trigger="pir",
               trigger_time=clock.now(), status="done", end=clock.now() + 10,
               decision=decision, label=label, score=0.9,
               clip=f"clips/ev{seq:05d}.mp4", thumb=f"clips/ev{seq:05d}.jpg", clip_bytes=clip_size)
    _write(data / ev.clip, clip_size)
    _write(data / ev.thumb, thumb_size)
    log.insert(ev)
    return ev


@pytest.fixture
def setup(tmp_path):
    clock = SimClock(1.7e9)
    log = EventLog(tmp_path / "events.db")
    yield tmp_path, clock, log
    log.close()


def test_nothing_deleted_when_within_limits(setup):
    data, clock, log = setup
    _event(log, data, clock, "deer", "kept", 100 * KB)
    guard = StorageGuard(data, log, StorageConfig(quota_mb=10, min_free_mb=1), clock,
                         "amur_leopard", disk=FolderDisk(data, 100 * MB))
    res = guard.enforce()
    assert res.ok and res.deleted == []


def test_deletes_by_value_in_order(setup):
    data, clock, log = setup
    leo_old = _event(log, data, clock, "amur_leopard", "kept", 1 * MB)
    clock.sleep(3600)
    deer_old = _event(log, data, clock, "deer", "kept", 1 * MB)
    clock.sleep(3600)
    blank = _event(log, data, clock, "blank", "discarded", 1 * MB)
    clock.sleep(3600)
    boar_new = _event(log, data, clock, "wild_boar", "kept", 1 * MB)
    _write(data / "clips" / "orphan.mp4", 1 * MB)
    _write(data / "clips" / ".tmp" / "open.mp4", 1 * MB)  # a clip being written: never touched

    used = FolderDisk(data, 0)().used
    # quota so that exactly ~2.5 MB must go: leftover clip of the blank, the orphan, then one
    # more MB from the oldest non-target clip (deer)
    cfg = StorageConfig(quota_mb=(used - int(2.5 * MB)) / MB, min_free_mb=0, headroom_mb=0)
    guard = StorageGuard(data, log, cfg, clock, "amur_leopard", disk=FolderDisk(data, 10**9))
    res = guard.enforce()
    assert res.ok
    order = [(d.event_id, d.what) for d in res.deleted]
    assert order[:3] == [(blank.id, "clip"), (blank.id, "thumb"), (None, "leftover")]
    assert order[3] == (deer_old.id, "clip")
    assert len(order) == 4
    assert (data / leo_old.clip).exists() and (data / boar_new.clip).exists()
    assert (data / deer_old.thumb).exists(), "thumbnails are kept longer than clips"
    assert (data / "clips/.tmp/open.mp4").exists()
    # every deletion is in the event log
    assert deleted_parts(log.get(blank.id)) == {"clip", "thumb"}
    entries = json.loads(log.get(deer_old.id).deleted)
    assert entries[0]["what"] == "clip" and entries[0]["path"] == deer_old.clip
    assert "non-target" in entries[0]["why"] and entries[0]["at"].startswith("20")
    assert log.get(leo_old.id).deleted is None


def test_leopard_clips_go_last_and_capture_never_stops(setup):
    data, clock, log = setup
    leo = _event(log, data, clock, "amur_leopard", "kept", 2 * MB)
    unk = _event(log, data, clock, None, "kept", 1 * MB)
    deer = _event(log, data, clock, "deer", "kept", 1 * MB)
    # the floor cannot be met even after deleting everything else: the leopard clip goes too,
    # then the thumbnails; the guard reports the remaining shortfall instead of raising
    cfg = StorageConfig(quota_mb=0, min_free_mb=50, headroom_mb=0)
    guard = StorageGuard(data, log, cfg, clock, "amur_leopard", disk=FolderDisk(data, 10 * MB))
    res = guard.enforce()
    whats = [(d.event_id, d.what) for d in res.deleted]
    assert whats == [(deer.id, "clip"), (unk.id, "clip"), (deer.id, "thumb"), (unk.id, "thumb"),
                     (leo.id, "clip"), (leo.id, "thumb")]
    assert not res.ok and res.short_by > 0


def test_target_evidence_and_alerts_outrank_ordinary_clips(setup):
    """A leopard kept by the doubt rule under another label is a target clip; a person (alert)
    outlasts a deer."""
    data, clock, log = setup
    doubt = _event(log, data, clock, "lynx", "kept", 1 * MB)
    doubt.scores = {"lynx": 0.5, "amur_leopard": 0.3}
    log.update(doubt)
    person = _event(log, data, clock, "human", "kept", 1 * MB)
    person.alert = True
    log.update(person)
    deer = _event(log, data, clock, "deer", "kept", 1 * MB)
    cfg = StorageConfig(quota_mb=0, min_free_mb=50, headroom_mb=0)
    guard = StorageGuard(data, log, cfg, clock, "amur_leopard", disk=FolderDisk(data, 10 * MB),
                         target_doubt=0.25)
    whats = [(d.event_id, d.what) for d in guard.enforce().deleted]
    assert whats == [(deer.id, "clip"), (person.id, "clip"), (deer.id, "thumb"), (person.id, "thumb"),
                     (doubt.id, "clip"), (doubt.id, "thumb")]
    assert not guard.is_target(log.get(person.id)) and guard.is_target(log.get(doubt.id))


def test_protected_path_and_recording_events_are_kept(setup):
    data, clock, log = setup
    ev = _event(log, data, clock, "deer", "kept", 1 * MB)
    seq = log.next_seq()
    rec = Event(id="rec", seq=seq, start=clock.now(), trigger="pir", trigger_time=clock.now(),
                clip="clips/rec.mp4")
    _write(data / rec.clip, 1 * MB)
    log.insert(rec)
    guard = StorageGuard(data, log, StorageConfig(quota_mb=0.5, min_free_mb=0), clock,
                         "amur_leopard", disk=FolderDisk(data, 10**9))
    res = guard.enforce(protect=[data / ev.clip])
    assert (data / ev.clip).exists() and (data / rec.clip).exists()
    assert [d.what for d in res.deleted] == ["thumb"]


def test_recover_finishes_logged_deletions(setup):
    data, clock, log = setup
    ev = _event(log, data, clock, "deer", "kept", 1 * MB)
    # a power cut after the log was written but before the unlink
    ev.deleted = json.dumps([{"what": "clip", "path": ev.clip, "at": "x", "why": "quota"}])
    log.update(ev)
    guard = StorageGuard(data, log, StorageConfig(), clock, "amur_leopard",
                         disk=FolderDisk(data, 10**9))
    done = guard.recover()
    assert [d.what for d in done] == ["clip"]
    assert not (data / ev.clip).exists() and (data / ev.thumb).exists()


def test_week_on_a_small_disk_keeps_every_leopard_clip(setup):
    """A 64 MB card, a week of events (about 25 a day, 1-3 MB clips, a leopard every other
    day): every clip is written (capture never stops), every leopard clip survives, the floor
    holds after each guard run, and every missing file is explained by the event log."""
    data, clock, log = setup
    rng = random.Random(5)
    disk = FolderDisk(data, 64 * MB)
    cfg = StorageConfig(quota_mb=0, min_free_mb=8, headroom_mb=2)
    guard = StorageGuard(data, log, cfg, clock, "amur_leopard", disk=disk)
    classes = ["blank"] * 6 + ["deer", "wild_boar", "hare", "bird", "human", "canid"]
    written = leopards = 0
    for day in range(7):
        for i in range(25):
            clock.sleep(rng.uniform(1800, 4000))
            size = rng.randint(1 * MB, 3 * MB)
            res = guard.enforce(need_bytes=size)  # before each clip, as the main loop does
            assert disk().free >= size, "no room for the next clip: capture would stop"
            label = "amur_leopard" if (i == 12 and day % 2 == 0) else rng.choice(classes)
            decision = "discarded" if label == "blank" else "kept"
            _event(log, data, clock, label, decision, size)
            written += 1
            leopards += label == "amur_leopard"
            assert res.ok
    assert written == 175 and leopards == 4
    for ev in log.all():
        gone = deleted_parts(ev)
        for what, rel in (("clip", ev.clip), ("thumb", ev.thumb)):
            assert (data / rel).exists() == (what not in gone), (ev.id, what)
        if ev.label == "amur_leopard":
            assert not gone and (data / ev.clip).exists()
    assert guard.deletions_total > 50  # the disk really did fill up
