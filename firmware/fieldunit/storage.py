"""Storage guard: a quota and a free-space floor, kept by deleting the least valuable files first.

Order of deletion when short of space (each tier oldest first):
  1. leftovers: files of discarded or interrupted events, and files under clips/ that no event
     names (crash leftovers; never the temp folder, where a clip may be open);
  2. clips of kept events of ordinary non-target classes (deer, boar, ...);
  3. clips of kept events that raised an alert (a person, a vehicle: poaching evidence);
  4. clips of kept events with no label (no classifier verdict: may be the target);
  5. the thumbnails of tiers 2, 3 and 4, in that order (small, and proof of what passed);
  6. clips of the target (the leopard: its label, or target evidence at or above the policy's
     doubt threshold whatever the label) — last of all clips; then their thumbnails.
Health photos older than `keep_health_photos_days` go with the leftovers.

The guard never stops capturing: it frees what it can and reports what it could not.

Every deletion is written to the event's `deleted` column (a JSON list of
`{"what": "clip"|"thumb", "path", "at", "why"}`) and committed *before* the file is unlinked, so
a power cut in between leaves a row that says "deleted" next to a file still on disk (finished
by `recover()` at start-up), never a row pointing to a file that is gone.
"""
from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, NamedTuple

from ..clock import Clock, iso
from ..eventlog import Event, EventLog
from ..fsutil import fsync_dir as _fsync_dir
from .config import StorageConfig

MB = 1024 * 1024
CLIPS_DIR = "clips"
TMP_DIR = "clips/.tmp"
HEALTH_DIR = "health"
THUMBS_DIR = "thumbs"


class DiskUsage(NamedTuple):
    total: int
    used: int
    free: int


class FolderDisk:
    """A disk of `capacity` bytes made of one folder (the simulator's small SD card): free space
    is the capacity less the bytes of every file under the folder."""

    def __init__(self, root: Path, capacity: int):
        self.root = Path(root)
        self.capacity = capacity

    def __call__(self) -> DiskUsage:
        used = sum(f.stat().st_size for f in self.root.rglob("*") if f.is_file())
        return DiskUsage(self.capacity, used, max(0, self.capacity - used))


def real_disk(path: Path) -> Callable[[], DiskUsage]:
    def usage() -> DiskUsage:
        u = shutil.disk_usage(path)
        return DiskUsage(u.total, u.used, u.free)
    return usage


@dataclass(frozen=True)
class Deletion:
    event_id: str | None  # None for a file no event names
    what: str              # clip | thumb | leftover | health_photo | tmp
    path: str              # relative to the data dir
    size: int
    why: str


@dataclass
class GuardResult:
    deleted: list[Deletion]
    freed: int
    short_by: int  # bytes still missing after deleting everything allowed (0 = fine)

    @property
    def ok(self) -> bool:
        return self.short_by == 0


def deleted_parts(ev: Event) -> set[str]:
    """Which of an event's files the storage guard deleted ('clip', 'thumb')."""
    if not ev.deleted:
        return set()
    try:
        entries = json.loads(ev.deleted)
    except json.JSONDecodeError:
        return {"clip", "thumb"}  # a free-text note from elsewhere: treat everything as gone
    return {e["what"] for e in entries}


class StorageGuard:
    def __init__(self, data_dir: Path, log: EventLog, config: StorageConfig, clock: Clock,
                 target_class: str, disk: Callable[[], DiskUsage] | None = None,
                 target_doubt: float | None = None):
        self.data_dir = Path(data_dir)
        self.log = log
        self.config = config
        self.clock = clock
        self.target_class = target_class
        self.target_doubt = target_doubt  # target evidence that makes any kept event a target one
        self.disk = disk if disk is not None else real_disk(self.data_dir)
        self.deletions_total = 0
        self.last_check: float | None = None

    # --- measuring ------------------------------------------------------------------------
    def media_bytes(self) -> int:
        """Bytes under the folders the guard manages (clips, thumbnails, health photos)."""
        total = 0
        for sub in (CLIPS_DIR, HEALTH_DIR, THUMBS_DIR):
            root = self.data_dir / sub
            if root.is_dir():
                total += sum(f.stat().st_size for f in root.rglob("*") if f.is_file())
        return total

    def shortfall(self, need_bytes: int = 0) -> int:
        """Bytes that must be freed now for the quota and the floor (plus `need_bytes`)."""
        short = 0
        if self.config.min_free_mb > 0 or need_bytes:
            free = self.disk().free
            short = max(short, int(self.config.min_free_mb * MB) + need_bytes - free)
        if self.config.quota_mb > 0:
            short = max(short, self.media_bytes() + need_bytes - int(self.config.quota_mb * MB))
        return max(0, short)

    def due(self) -> bool:
        """True when the idle check interval has passed since the last check."""
        now = self.clock.monotonic()
        return self.last_check is None or now - self.last_check >= self.config.check_interval_s

    # --- acting ---------------------------------------------------------------------------
    def enforce(self, need_bytes: int = 0, protect: Iterable[Path | str] = ()) -> GuardResult:
        """Free space until quota and floor hold (with headroom) and `need_bytes` fit.

        `protect`: paths (absolute or relative to the data dir) that must not be touched, such
        as the clip being written. Never raises for lack of space.
        """
        self.last_check = self.clock.monotonic()
        short = self.shortfall(need_bytes)
        deleted: list[Deletion] = []
        freed = 0
        if short == 0:
            return GuardResult(deleted, 0, 0)
        goal = short + int(self.config.headroom_mb * MB)
        keep = {self._rel(p) for p in protect}
        for cand in self._candidates(keep):
            if freed >= goal:
                break
            size = self._delete(cand)
            if size is not None:
                deleted.append(cand)
                freed += size
        self.deletions_total += len(deleted)
        return GuardResult(deleted, freed, max(0, short - freed))

    def recover(self) -> list[Deletion]:
        """At start-up: finish deletions the log records but a power cut interrupted (the temp
        folder is ClipStore.recover()'s job)."""
        out = []
        for ev in self.log.all():
            parts = deleted_parts(ev)
            for what in parts:
                rel = ev.clip if what == "clip" else ev.thumb
                if rel and (self.data_dir / rel).exists():
                    f = self.data_dir / rel
                    out.append(Deletion(ev.id, what, rel, f.stat().st_size, "finishing a logged deletion"))
                    f.unlink()
                    _fsync_dir(f.parent)
        return out

    # --- internals ------------------------------------------------------------------------
    def _rel(self, p: Path | str) -> str:
        p = Path(p)
        if p.is_absolute():
            try:
                p = p.relative_to(self.data_dir)
            except ValueError:
                return str(p)
        return p.as_posix()

    def _exists(self, rel: str | None) -> bool:
        return bool(rel) and (self.data_dir / rel).is_file()

    def _size(self, rel: str) -> int:
        return (self.data_dir / rel).stat().st_size

    def _candidates(self, keep: set[str]) -> Iterable[Deletion]:
        """Deletion candidates, least valuable first; evaluated lazily (the log may change)."""
        events = list(self.log.all())  # ordered by start: oldest first
        named = set()
        for ev in events:
            for rel in (ev.clip, ev.thumb):
                if rel:
                    named.add(Path(rel).as_posix())

        def ok(rel: str | None) -> bool:
            return bool(rel) and rel not in keep and self._exists(rel)

        # 1. leftovers: files of discarded / interrupted events
        for ev in events:
            if ev.status == "recording":
                continue  # being written or decided right now
            if ev.decision != "kept":
                for what, rel in (("clip", ev.clip), ("thumb", ev.thumb)):
                    if ok(rel):
                        yield Deletion(ev.id, what, rel, self._size(rel),
                                       f"leftover of a {ev.decision or ev.status} event")
        # ... files no event names (not in the temp folder: a clip may be open there)
        orphans = []
        for sub in (CLIPS_DIR, THUMBS_DIR):
            if (self.data_dir / sub).is_dir():
                orphans += [f for f in (self.data_dir / sub).rglob("*")
                            if f.is_file() and not self._rel(f).startswith(TMP_DIR + "/")
                            and self._rel(f) not in named]
        if orphans:
            for f in sorted(orphans, key=lambda f: f.stat().st_mtime):
                rel = self._rel(f)
                if ok(rel):
                    yield Deletion(None, "leftover", rel, self._size(rel), "file no event names")
        # ... old health photos
        health = self.data_dir / HEALTH_DIR
        if health.is_dir():
            horizon = self.clock.now() - self.config.keep_health_photos_days * 86400
            for f in sorted(health.iterdir()):
                rel = self._rel(f)
                if f.is_file() and _photo_day(f) is not None and _photo_day(f) < horizon and ok(rel):
                    yield Deletion(None, "health_photo", rel, self._size(rel),
                                   f"health photo older than {self.config.keep_health_photos_days} days")

        kept = [ev for ev in events if ev.status == "done" and ev.decision == "kept"]
        targets = [ev for ev in kept if self.is_target(ev)]
        rest = [ev for ev in kept if not self.is_target(ev)]
        plain = [ev for ev in rest if ev.label is not None and not ev.alert]
        alerts = [ev for ev in rest if ev.label is not None and ev.alert]
        unknown = [ev for ev in rest if ev.label is None]
        t = self.target_class
        for group, what, why in (
            (plain, "clip", "oldest clip of a non-target class"),
            (alerts, "clip", "oldest alert clip (non-target): nothing less valuable left"),
            (unknown, "clip", "oldest unclassified clip: nothing less valuable left"),
            (plain, "thumb", "oldest thumbnail of a non-target class"),
            (alerts, "thumb", "oldest alert thumbnail (non-target): nothing less valuable left"),
            (unknown, "thumb", "oldest unclassified thumbnail: nothing less valuable left"),
            (targets, "clip", f"oldest {t} clip: nothing less valuable left"),
            (targets, "thumb", f"oldest {t} thumbnail: nothing else left"),
        ):
            for ev in group:
                rel = ev.clip if what == "clip" else ev.thumb
                if ok(rel):
                    yield Deletion(ev.id, what, rel, self._size(rel), why)

    def is_target(self, ev: Event) -> bool:
        """The event may show the target: its label, or (kept by the doubt rule) its target
        score at or above the doubt threshold."""
        if ev.label == self.target_class:
            return True
        score = (ev.scores or {}).get(self.target_class, 0.0)
        return self.target_doubt is not None and score >= self.target_doubt

    def _delete(self, d: Deletion) -> int | None:
        """Log (for event files), then unlink; the size freed, or None if it was already gone."""
        path = self.data_dir / d.path
        if not path.is_file():
            return None
        size = path.stat().st_size
        if d.event_id is not None:
            ev = self.log.get(d.event_id)
            if ev is None:
                return None
            entries = json.loads(ev.deleted) if ev.deleted and ev.deleted.startswith("[") else []
            entries.append({"what": d.what, "path": d.path, "at": iso(self.clock.now()), "why": d.why})
            ev.deleted = json.dumps(entries)
            self.log.update(ev)  # committed (autocommit, synchronous=FULL) before the unlink
        path.unlink()
        _fsync_dir(path.parent)
        return size


def _photo_day(f: Path) -> float | None:
    """Epoch of a health photo named YYYY-MM-DD*.jpg (UTC midnight), or None."""
    from datetime import datetime, timezone

    try:
        return datetime.strptime(f.name[:10], "%Y-%m-%d").replace(tzinfo=timezone.utc).timestamp()
    except ValueError:
        return None


