"""The event log: one SQLite row per event, durable across power cuts.

WAL journal with `synchronous=FULL`: a committed row survives a power cut. A row is inserted
when an event opens (status `recording`); when it is decided, the row names its final clip and
thumbnail paths (status `saving`) *before* the files move there, and becomes `done` after. A cut
mid-event leaves a row that start-up marks `interrupted` instead of a silent gap; a cut while
saving leaves a row that start-up finishes (firmware/app.py), so no file ever lies unnamed.
"""
from __future__ import annotations

import json
import sqlite3
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterator

SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    id            TEXT PRIMARY KEY,
    seq           INTEGER NOT NULL,
    status        TEXT NOT NULL,            -- recording | saving | done | interrupted
    start         REAL NOT NULL,            -- epoch seconds (UTC), first frame of the clip
    end           REAL,
    trigger       TEXT NOT NULL,            -- pir | motion
    trigger_time  REAL NOT NULL,
    frames_checked INTEGER DEFAULT 0,
    motion_frames INTEGER DEFAULT 0,
    light_jumps   INTEGER DEFAULT 0,
    max_area      REAL DEFAULT 0,           -- largest object, share of frame
    travel        REAL DEFAULT 0,           -- object centre travel, share of diagonal
    best_box      TEXT,                     -- JSON [x, y, w, h] in 0..1 of the frame
    decision      TEXT,                     -- kept | discarded
    alert         INTEGER DEFAULT 0,        -- the policy asked for an alert (1)
    reason        TEXT,
    label         TEXT,                     -- classifier: firmware class
    score         REAL,
    scores        TEXT,                     -- JSON {class: score}
    model         TEXT,                     -- model version, or 'fallback'
    clip          TEXT,                     -- path relative to the data dir
    thumb         TEXT,
    clip_bytes    INTEGER DEFAULT 0,
    deleted       TEXT                      -- why and when the clip was deleted (storage guard)
);
CREATE INDEX IF NOT EXISTS events_start ON events(start);
CREATE TABLE IF NOT EXISTS counters (
    name  TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
"""


@dataclass
class Event:
    id: str
    seq: int
    start: float
    trigger: str
    trigger_time: float
    status: str = "recording"
    end: float | None = None
    frames_checked: int = 0
    motion_frames: int = 0
    light_jumps: int = 0
    max_area: float = 0.0
    travel: float = 0.0
    best_box: list[float] | None = None
    decision: str | None = None
    alert: bool = False
    reason: str | None = None
    label: str | None = None
    score: float | None = None
    scores: dict[str, float] | None = None
    model: str | None = None
    clip: str | None = None
    thumb: str | None = None
    clip_bytes: int = 0
    deleted: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # not stored: in-memory only (e.g. sim truth)

    def row(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("extra")
        d["best_box"] = json.dumps(d["best_box"]) if d["best_box"] is not None else None
        d["scores"] = json.dumps(d["scores"]) if d["scores"] is not None else None
        return d

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> "Event":
        d = dict(row)
        d["best_box"] = json.loads(d["best_box"]) if d["best_box"] else None
        d["scores"] = json.loads(d["scores"]) if d["scores"] else None
        d["alert"] = bool(d.get("alert"))
        return cls(**d)


def connect(path: Path) -> sqlite3.Connection:
    """A connection with the durability settings every trailcam database uses."""
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
    db.row_factory = sqlite3.Row
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute("PRAGMA busy_timeout=5000")
    return db


class EventLog:
    def __init__(self, path: Path):
        self.path = Path(path)
        self.db = connect(self.path)
        self.db.executescript(SCHEMA)
        columns = {r["name"] for r in self.db.execute("PRAGMA table_info(events)")}
        if "alert" not in columns:  # an event log written by an earlier version
            self.db.execute("ALTER TABLE events ADD COLUMN alert INTEGER DEFAULT 0")

    def close(self) -> None:
        self.db.close()

    def next_seq(self) -> int:
        """A device-relative event number that never repeats, even across restarts."""
        with self.db:
            self.db.execute("BEGIN IMMEDIATE")
            row = self.db.execute("SELECT value FROM counters WHERE name='event_seq'").fetchone()
            seq = (row["value"] if row else 0) + 1
            self.db.execute(
                "INSERT INTO counters(name, value) VALUES('event_seq', ?) "
                "ON CONFLICT(name) DO UPDATE SET value=excluded.value", (seq,))
        return seq

    def insert(self, ev: Event) -> None:
        row = ev.row()
        cols = ", ".join(row)
        marks = ", ".join(f":{k}" for k in row)
        self.db.execute(f"INSERT INTO events ({cols}) VALUES ({marks})", row)

    def update(self, ev: Event) -> None:
        row = ev.row()
        sets = ", ".join(f"{k}=:{k}" for k in row if k != "id")
        self.db.execute(f"UPDATE events SET {sets} WHERE id=:id", row)

    def get(self, event_id: str) -> Event | None:
        row = self.db.execute("SELECT * FROM events WHERE id=?", (event_id,)).fetchone()
        return Event.from_row(row) if row else None

    def all(self) -> Iterator[Event]:
        for row in self.db.execute("SELECT * FROM events ORDER BY start, seq"):
            yield Event.from_row(row)

    def saving(self) -> list[Event]:
        """Events a power cut caught while their files were being saved."""
        return [Event.from_row(r) for r in self.db.execute("SELECT * FROM events WHERE status='saving'")]

    def mark_interrupted(self) -> list[str]:
        """At start-up: events left `recording` by a crash or power cut become `interrupted`."""
        ids = [r["id"] for r in self.db.execute("SELECT id FROM events WHERE status='recording'")]
        if ids:
            self.db.execute(
                "UPDATE events SET status='interrupted', decision=COALESCE(decision, 'discarded'), "
                "reason=COALESCE(reason, 'interrupted: power cut or crash while recording') "
                "WHERE status='recording'")
        return ids
