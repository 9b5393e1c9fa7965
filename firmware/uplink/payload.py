"""Compact LoRaWAN payloads (≤ 11 bytes each; no coordinates of any sighting).

Layouts (big-endian; the README table is the reference, deploy/lorawan/decoder.js decodes them):

event summary, FPort lora.event_port (10 bytes)
  0-1  seq        device-relative event number (Event.seq mod 65536)
  2-4  day<<11|minute   day = days since 2024-01-01 of the local date, minute = minutes since local midnight
  5    class      code from lora_codes.json `classes`
  6    confidence percent 0..100; 255 = no score
  7    count      animals seen (1 when unknown), capped at 255
  8    flags      bit i = lora_codes.json `event_flags`[i]
  9    duration   seconds, capped at 255

daily summary, FPort lora.daily_port (11 bytes)
  0-1 day, 2-3 triggers, 4-5 discarded, 6 kept, 7 leopard events, 8 folded (kept events not sent
  over LoRa for want of airtime), 9 most frequent other class, 10 its count (counts capped)

health, FPort lora.health_port (9 bytes)
  0-1 battery mV (0 = unknown), 2 temperature °C int8 (-128 = unknown), 3 disk free % (255 =
  unknown), 4-5 queue depth, 6-7 uptime hours, 8 flags (`health_flags`)

remote-config ack, FPort lora.ack_port (2 bytes): 0 accepted 1/0, 1 code of the first refused key
remote-config downlink, FPort lora.config_port: repeated (key code u8, value int16) triples;
  value = setting × scale (`downlink_keys`).
"""
from __future__ import annotations

import json
import struct
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

MAX_LORA_PAYLOAD = 11
DAY0 = date(2024, 1, 1)
CODES_PATH = Path(__file__).with_name("lora_codes.json")


@dataclass(frozen=True)
class Codes:
    classes: tuple[str, ...]
    event_flags: tuple[str, ...]
    health_flags: tuple[str, ...]
    downlink_keys: tuple[tuple[int, str, int], ...]

    def class_code(self, label: str | None) -> int:
        try:
            return self.classes.index(label or "unknown")
        except ValueError:
            return 0

    def class_name(self, code: int) -> str:
        return self.classes[code] if 0 <= code < len(self.classes) else "unknown"


@lru_cache(maxsize=1)
def codes() -> Codes:
    data = json.loads(CODES_PATH.read_text(encoding="utf-8"))
    return Codes(
        classes=tuple(data["classes"]),
        event_flags=tuple(data["event_flags"]),
        health_flags=tuple(data["health_flags"]),
        downlink_keys=tuple((d["code"], d["key"], d["scale"]) for d in data["downlink_keys"]),
    )


def local_day_minute(ts: float, tz: str) -> tuple[int, int]:
    """(days since 2024-01-01 of the local date, minutes since local midnight)."""
    dt = datetime.fromtimestamp(ts, ZoneInfo(tz))
    return (dt.date() - DAY0).days, dt.hour * 60 + dt.minute


def day_date(day: int) -> date:
    return DAY0 + timedelta(days=day)


def _cap(v: int, hi: int) -> int:
    return max(0, min(int(v), hi))


@dataclass(frozen=True)
class EventSummary:
    seq: int
    day: int
    minute: int
    cls: int
    confidence: int  # 0..100, 255 = none
    count: int
    flags: int
    duration_s: int

    def encode(self) -> bytes:
        if not (0 <= self.day < 8192 and 0 <= self.minute < 1440):
            raise ValueError(f"day {self.day} / minute {self.minute} out of range")
        dm = (self.day << 11) | self.minute
        return struct.pack(">H", self.seq & 0xFFFF) + dm.to_bytes(3, "big") + bytes(
            [self.cls & 0xFF, self.confidence & 0xFF, _cap(self.count, 255), self.flags & 0xFF,
             _cap(self.duration_s, 255)])


@dataclass(frozen=True)
class DailySummary:
    day: int
    triggers: int
    discarded: int
    kept: int
    leopards: int
    folded: int
    top_cls: int
    top_count: int

    def encode(self) -> bytes:
        return struct.pack(">HHHBBBBB", self.day & 0xFFFF, _cap(self.triggers, 65535),
                           _cap(self.discarded, 65535), _cap(self.kept, 255), _cap(self.leopards, 255),
                           _cap(self.folded, 255), self.top_cls & 0xFF, _cap(self.top_count, 255))


@dataclass(frozen=True)
class HealthReport:
    battery_mv: int  # 0 = unknown
    temperature_c: int  # -128 = unknown
    disk_free_pct: int  # 255 = unknown
    queue_depth: int
    uptime_h: int
    flags: int

    def encode(self) -> bytes:
        t = max(-128, min(127, int(self.temperature_c)))
        return struct.pack(">HbBHHB", _cap(self.battery_mv, 65535), t, _cap(self.disk_free_pct, 255),
                           _cap(self.queue_depth, 65535), _cap(self.uptime_h, 65535), self.flags & 0xFF)


def flags_value(names: tuple[str, ...], on: set[str]) -> int:
    return sum(1 << i for i, n in enumerate(names) if n in on)


def event_summary(ev: Any, alert: bool, tz: str) -> EventSummary:
    """The compact form of a decided `firmware.eventlog.Event` (no coordinates, no box)."""
    c = codes()
    day, minute = local_day_minute(ev.start, tz)
    on = {"alert"} if alert else set()
    if ev.decision == "kept":
        on.add("kept")
    if ev.extra.get("night"):
        on.add("night")
    if ev.clip:
        on.add("clip")
    if ev.trigger == "motion":
        on.add("motion_trigger")
    if ev.status == "interrupted":
        on.add("interrupted")
    conf = 255 if ev.score is None else _cap(round(ev.score * 100), 100)
    dur = 0 if ev.end is None else round(max(0.0, ev.end - ev.start))
    day = max(0, min(8191, day))  # a unit whose clock is unset (1970) still sends, as day 0
    return EventSummary(seq=ev.seq & 0xFFFF, day=day, minute=minute, cls=c.class_code(ev.label),
                        confidence=conf, count=_cap(ev.extra.get("count", 1), 255),
                        flags=flags_value(c.event_flags, on), duration_s=_cap(dur, 255))


def health_report(snapshot: dict[str, Any], queue_depth: int) -> HealthReport:
    c = codes()
    volts = snapshot.get("battery_v")
    temp = snapshot.get("temperature_c")
    disk = snapshot.get("disk_free_pct")
    on = {name for name in c.health_flags if snapshot.get(name)}
    return HealthReport(
        battery_mv=0 if volts is None else _cap(round(volts * 1000), 65535),
        temperature_c=-128 if temp is None else max(-127, min(127, round(temp))),
        disk_free_pct=255 if disk is None else _cap(round(disk), 100),
        queue_depth=_cap(queue_depth, 65535),
        uptime_h=_cap(int(snapshot.get("uptime_s", 0) // 3600), 65535),
        flags=flags_value(c.health_flags, on))


# --- decoding (the network side; mirrors decoder.js and is what tests compare it with) ------

def _flag_dict(names: tuple[str, ...], value: int) -> dict[str, bool]:
    return {n: bool(value >> i & 1) for i, n in enumerate(names)}


def decode(kind: str, data: bytes) -> dict[str, Any]:
    c = codes()
    if kind == "event":
        if len(data) != 10:
            raise ValueError("event summary is 10 bytes")
        seq, = struct.unpack(">H", data[:2])
        dm = int.from_bytes(data[2:5], "big")
        day, minute = dm >> 11, dm & 0x7FF
        return {"kind": "event", "seq": seq, "day": day, "date": day_date(day).isoformat(),
                "minute": minute, "class": c.class_name(data[5]), "class_code": data[5],
                "confidence": None if data[6] == 255 else data[6], "count": data[7],
                "flags": _flag_dict(c.event_flags, data[8]), "duration_s": data[9]}
    if kind == "daily":
        if len(data) != 11:
            raise ValueError("daily summary is 11 bytes")
        day, trig, disc, kept, leo, folded, top, topn = struct.unpack(">HHHBBBBB", data)
        return {"kind": "daily", "day": day, "date": day_date(day).isoformat(), "triggers": trig,
                "discarded": disc, "kept": kept, "leopards": leo, "folded": folded,
                "top_class": c.class_name(top), "top_class_code": top, "top_count": topn}
    if kind == "health":
        if len(data) != 9:
            raise ValueError("health report is 9 bytes")
        mv, t, disk, q, up, fl = struct.unpack(">HbBHHB", data)
        return {"kind": "health", "battery_mv": None if mv == 0 else mv,
                "temperature_c": None if t == -128 else t, "disk_free_pct": None if disk == 255 else disk,
                "queue_depth": q, "uptime_h": up, "flags": _flag_dict(c.health_flags, fl)}
    if kind == "ack":
        if len(data) != 2:
            raise ValueError("ack is 2 bytes")
        return {"kind": "ack", "accepted": bool(data[0]), "first_refused_code": data[1]}
    raise ValueError(f"unknown payload kind {kind!r}")


def encode_ack(accepted: bool, first_refused_code: int) -> bytes:
    return bytes([1 if accepted else 0, first_refused_code & 0xFF])


# --- remote-config downlink (compact form) ---------------------------------------------------

def encode_config_downlink(settings: dict[str, float]) -> bytes:
    by_key = {k: (code, scale) for code, k, scale in codes().downlink_keys}
    out = b""
    for key, value in settings.items():
        code, scale = by_key[key]
        out += struct.pack(">Bh", code, round(value * scale))
    return out


def decode_config_downlink(data: bytes) -> tuple[dict[str, Any], list[str]]:
    """Compact downlink → (nested patch dict, problems). A bad downlink gives problems, no patch."""
    by_code = {code: (k, scale) for code, k, scale in codes().downlink_keys}
    if not data or len(data) % 3:
        return {}, [f"downlink: {len(data)} bytes is not a whole number of (key, value) triples"]
    patch: dict[str, Any] = {}
    problems = []
    for i in range(0, len(data), 3):
        code, raw = struct.unpack(">Bh", data[i:i + 3])
        if code not in by_code:
            problems.append(f"downlink key code {code}: unknown")
            continue
        key, scale = by_code[code]
        value: Any = raw if scale == 1 else raw / scale
        node = patch
        parts = key.split(".")
        for p in parts[:-1]:
            node = node.setdefault(p, {})
        node[parts[-1]] = value
    return ({} if problems else patch), problems


def downlink_key_code(key_path: str) -> int:
    for code, k, _ in codes().downlink_keys:
        if k == key_path:
            return code
    return 0
