"""The durable outbound queue (SQLite, WAL, synchronous=FULL via eventlog.connect).

A message has a stable id (a resend carries the same id), a priority, its creation time, the
transports that still owe it (a bit mask: it leaves the queue when every one has confirmed it),
and attempts. Rows are committed before anything is sent, and removed only on confirmation
(PUBACK, TX_DONE, confirmed ACK), so a kill -9 or a power cut loses nothing.

Overflow rule: when more than `max_messages` wait, the least important go first — highest
priority number (daily summary, then health, then ordinary events), oldest first within a
priority. A leopard event is never dropped: a queue of only leopard events grows past the bound.
"""
from __future__ import annotations

import json
import sqlite3
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from ..eventlog import connect

# Priorities: lower is more important.
ALERT, EVENT, HEALTH, DAILY = 0, 1, 2, 3
PRIORITY_NAMES = {ALERT: "alert", EVENT: "event", HEALTH: "health", DAILY: "daily"}

MQTT, LORA = 1, 2

SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    id        TEXT PRIMARY KEY,
    kind      TEXT NOT NULL,            -- event | health | daily | thumb | ack
    priority  INTEGER NOT NULL,         -- 0 alert, 1 event, 2 health, 3 daily
    leopard   INTEGER NOT NULL DEFAULT 0,
    created   REAL NOT NULL,            -- epoch seconds
    topic     TEXT NOT NULL,            -- MQTT topic below <prefix>/<device>/
    body      BLOB NOT NULL,            -- MQTT payload (JSON, or a file path for thumbnails)
    lora      BLOB,                     -- compact LoRa payload, if LoRa carries it
    lora_port INTEGER,
    confirmed INTEGER NOT NULL DEFAULT 0,
    pending   INTEGER NOT NULL,         -- transports that still owe it: 1 mqtt, 2 lora
    attempts  INTEGER NOT NULL DEFAULT 0,
    last_try  REAL
);
CREATE INDEX IF NOT EXISTS outbox_order ON outbox(priority, created);
CREATE TABLE IF NOT EXISTS uplink_meta (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"""


@dataclass(frozen=True)
class Message:
    id: str
    kind: str
    priority: int
    leopard: bool
    created: float
    topic: str
    body: bytes
    lora: bytes | None
    lora_port: int | None
    confirmed: bool
    pending: int
    attempts: int

    @classmethod
    def from_row(cls, r: sqlite3.Row) -> "Message":
        return cls(id=r["id"], kind=r["kind"], priority=r["priority"], leopard=bool(r["leopard"]),
                   created=r["created"], topic=r["topic"], body=bytes(r["body"]),
                   lora=None if r["lora"] is None else bytes(r["lora"]), lora_port=r["lora_port"],
                   confirmed=bool(r["confirmed"]), pending=r["pending"], attempts=r["attempts"])


class OutboundQueue:
    def __init__(self, path: Path, max_messages: int):
        self.path = Path(path)
        self.max_messages = max_messages
        self.db = connect(self.path)
        self.db.executescript(SCHEMA)
        self._lock = threading.RLock()
        self._depth = 0  # nesting of transaction()

    def close(self) -> None:
        self.db.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One atomic change (nestable: only the outermost commits). Used by every write, and
        by callers that must count and queue together (an event's counters and its message)."""
        with self._lock:
            outer = self._depth == 0
            if outer:
                self.db.execute("BEGIN IMMEDIATE")
            self._depth += 1
            try:
                yield
            except BaseException:
                self._depth -= 1
                if outer:
                    self.db.execute("ROLLBACK")
                raise
            self._depth -= 1
            if outer:
                self.db.execute("COMMIT")

    # --- writing -------------------------------------------------------------------------
    def put(self, msg_id: str, kind: str, priority: int, created: float, topic: str,
            body: bytes | str, pending: int, *, leopard: bool = False, lora: bytes | None = None,
            lora_port: int | None = None, confirmed: bool = False) -> list[str]:
        """Add a message (a second put with the same id is ignored). Returns ids dropped by overflow."""
        if isinstance(body, str):
            body = body.encode()
        if pending == 0:
            return []
        with self.transaction():
            self.db.execute(
                "INSERT OR IGNORE INTO outbox (id, kind, priority, leopard, created, topic, body, "
                "lora, lora_port, confirmed, pending) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                (msg_id, kind, priority, int(leopard), created, topic, body, lora, lora_port,
                 int(confirmed), pending))
            dropped = self._overflow()
        return dropped

    def _overflow(self) -> list[str]:
        n = self.db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0]
        excess = n - self.max_messages
        if excess <= 0:
            return []
        rows = self.db.execute(
            "SELECT id FROM outbox WHERE leopard = 0 ORDER BY priority DESC, created ASC LIMIT ?",
            (excess,)).fetchall()
        ids = [r["id"] for r in rows]
        self.db.executemany("DELETE FROM outbox WHERE id = ?", [(i,) for i in ids])
        self._bump("dropped", len(ids))
        self._bump("removed", len(ids))
        return ids

    def done(self, msg_id: str, transport_bit: int) -> bool:
        """`transport_bit` confirmed the message; it is removed once no transport owes it.
        Returns whether this call cleared a pending bit (False for a duplicate confirmation)."""
        with self.transaction():
            cur = self.db.execute(
                "UPDATE outbox SET pending = pending & ~? WHERE id = ? AND pending & ? != 0",
                (transport_bit, msg_id, transport_bit))
            changed = cur.rowcount > 0
            gone = self.db.execute("DELETE FROM outbox WHERE id = ? AND pending = 0", (msg_id,)).rowcount
            # every message that leaves is counted, in the same transaction: the power-cut
            # harness checks that no message vanishes unaccounted for
            self._bump("removed", gone)
        return changed

    def attempt(self, msg_id: str, when: float) -> None:
        with self._lock:
            self.db.execute("UPDATE outbox SET attempts = attempts + 1, last_try = ? WHERE id = ?",
                            (when, msg_id))

    # --- reading -------------------------------------------------------------------------
    def next_for(self, transport_bit: int, exclude: set[str] | frozenset = frozenset(),
                 limit: int = 1, skip_priorities: tuple[int, ...] = ()) -> list[Message]:
        """Most important first (priority, then oldest), owed by this transport; messages of
        `skip_priorities` stay where they are (low-battery mode holds ordinary events back)."""
        held = "".join(f" AND priority != {int(p)}" for p in skip_priorities)
        rows = self.db.execute(
            f"SELECT * FROM outbox WHERE pending & ? != 0{held} ORDER BY priority ASC, created ASC, id ASC "
            "LIMIT ?", (transport_bit, limit + len(exclude))).fetchall()
        out = [Message.from_row(r) for r in rows if r["id"] not in exclude]
        return out[:limit]

    def get(self, msg_id: str) -> Message | None:
        r = self.db.execute("SELECT * FROM outbox WHERE id = ?", (msg_id,)).fetchone()
        return Message.from_row(r) if r else None

    def __len__(self) -> int:
        return self.db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0]

    def depth(self, transport_bit: int | None = None) -> int:
        if transport_bit is None:
            return len(self)
        return self.db.execute("SELECT COUNT(*) FROM outbox WHERE pending & ? != 0",
                               (transport_bit,)).fetchone()[0]

    def all(self) -> Iterator[Message]:
        for r in self.db.execute("SELECT * FROM outbox ORDER BY priority, created, id"):
            yield Message.from_row(r)

    # --- small persistent state (counters, budget) ---------------------------------------
    def meta(self, name: str, default: Any = None) -> Any:
        r = self.db.execute("SELECT value FROM uplink_meta WHERE name = ?", (name,)).fetchone()
        return default if r is None else json.loads(r["value"])

    def set_meta(self, name: str, value: Any) -> None:
        with self.transaction():
            self.db.execute(
                "INSERT INTO uplink_meta(name, value) VALUES(?, ?) "
                "ON CONFLICT(name) DO UPDATE SET value = excluded.value", (name, json.dumps(value)))

    def _bump(self, name: str, by: int) -> None:
        if by:
            cur = self.meta(name, 0)
            self.db.execute(
                "INSERT INTO uplink_meta(name, value) VALUES(?, ?) "
                "ON CONFLICT(name) DO UPDATE SET value = excluded.value", (name, json.dumps(cur + by)))

    def bump(self, name: str, by: int = 1) -> None:
        with self.transaction():
            self._bump(name, by)

    def clear_lora(self, msg_id: str) -> None:
        """LoRa no longer owes this message (folded into the daily summary, or superseded)."""
        self.done(msg_id, LORA)
