"""Compact LoRa payloads: Python encoder vs deploy/lorawan/decoder.js run by node on random messages."""
from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import asdict

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from firmware.eventlog import Event
from firmware.uplink.config import LoraConfig
from firmware.uplink.payload import (
    MAX_LORA_PAYLOAD, DailySummary, EventSummary, HealthReport, codes, decode, decode_config_downlink,
    encode_ack, encode_config_downlink, event_summary, health_report,
)
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

DECODER = REPO / "deploy" / "lorawan" / "decoder.js"
NODE = shutil.which("node")
pytestmark = pytest.mark.skipif(NODE is None, reason="node is not installed (make test installs it)")

PORTS = {"event": LoraConfig().event_port, "daily": LoraConfig().daily_port,
         "health": LoraConfig().health_port, "ack": LoraConfig().ack_port}

HARNESS = """
const d = require(process.argv[1]);
const msgs = JSON.parse(require('fs').readFileSync(0, 'utf8'));
const out = msgs.map(m => d.decodeUplink({bytes: m.bytes, fPort: m.port}));
process.stdout.write(JSON.stringify({out: out, tables: {classes: d.CLASSES, event_flags: d.EVENT_FLAGS,
  health_flags: d.HEALTH_FLAGS, ports: d.PORTS}}));
"""


def run_node(msgs: list[dict]) -> dict:
    r = subprocess.run([NODE, "-e", HARNESS, str(DECODER)], input=json.dumps(msgs), capture_output=True,
                       text=True, timeout=60, check=True)
    return json.loads(r.stdout)


u8, u16 = st.integers(0, 255), st.integers(0, 65535)
n_classes = len(codes().classes)
events = st.builds(EventSummary, seq=u16, day=st.integers(0, 8191), minute=st.integers(0, 1439),
                   cls=st.integers(0, n_classes - 1), confidence=st.one_of(st.integers(0, 100), st.just(255)),
                   count=u8, flags=st.integers(0, 63), duration_s=u8)
dailies = st.builds(DailySummary, day=u16, triggers=u16, discarded=u16, kept=u8, leopards=u8, folded=u8,
                    top_cls=st.integers(0, n_classes - 1), top_count=u8)
healths = st.builds(HealthReport, battery_mv=u16, temperature_c=st.integers(-128, 127),
                    disk_free_pct=u8, queue_depth=u16, uptime_h=u16, flags=st.integers(0, 15))
acks = st.tuples(st.booleans(), u8)


def test_tables_match_the_shared_data():
    tables = run_node([])["tables"]
    c = codes()
    assert tables["classes"] == list(c.classes)
    assert tables["event_flags"] == list(c.event_flags)
    assert tables["health_flags"] == list(c.health_flags)
    assert tables["ports"] == PORTS


@settings(max_examples=15, deadline=None)
@given(st.lists(events, max_size=30), st.lists(dailies, max_size=10), st.lists(healths, max_size=10),
       st.lists(acks, max_size=5))
def test_node_decodes_what_python_encodes(evs, days, hs, ks):
    msgs = ([("event", e.encode(), e) for e in evs] + [("daily", d.encode(), d) for d in days]
            + [("health", h.encode(), h) for h in hs] + [("ack", encode_ack(*k), k) for k in ks])
    for _, data, _ in msgs:
        assert len(data) <= MAX_LORA_PAYLOAD
    out = run_node([{"bytes": list(data), "port": PORTS[kind]} for kind, data, _ in msgs])["out"]
    for (kind, data, src), js in zip(msgs, out, strict=False):
        assert js.get("errors") == [], js
        py = decode(kind, data)
        assert js["data"] == py
        if kind == "event":
            f = asdict(src)
            assert (py["seq"], py["day"], py["minute"], py["class_code"], py["count"], py["duration_s"]) == (
                f["seq"], f["day"], f["minute"], f["cls"], f["count"], f["duration_s"])
            assert py["confidence"] == (None if src.confidence == 255 else src.confidence)
            assert sum(1 << i for i, n in enumerate(codes().event_flags) if py["flags"][n]) == src.flags
        elif kind == "daily":
            assert (py["day"], py["triggers"], py["discarded"], py["kept"], py["leopards"], py["folded"],
                    py["top_class_code"], py["top_count"]) == tuple(asdict(src).values())
        elif kind == "health":
            assert py["queue_depth"] == src.queue_depth and py["uptime_h"] == src.uptime_h
            assert py["battery_mv"] == (src.battery_mv or None)
            assert py["temperature_c"] == (None if src.temperature_c == -128 else src.temperature_c)
        else:
            assert (py["accepted"], py["first_refused_code"]) == src


def test_decoder_reports_wrong_length_and_port():
    out = run_node([{"bytes": [1, 2, 3], "port": PORTS["event"]}, {"bytes": [0] * 10, "port": 99}])["out"]
    assert "expects 10 bytes" in out[0]["errors"][0]
    assert "unknown fPort" in out[1]["errors"][0]


def test_event_payload_from_a_real_event_has_no_coordinates_and_fits():
    ev = Event(id="e1", seq=70001, start=1_717_000_000.0, end=1_717_000_012.4, trigger="motion",
               trigger_time=1_717_000_000.0, status="done", decision="kept", label="amur_leopard",
               score=0.934, clip="clips/e1.mp4", best_box=[0.1, 0.2, 0.3, 0.4],
               extra={"latitude": 43.1, "longitude": 131.9, "count": 2, "night": True})
    data = event_summary(ev, alert=True, tz="Asia/Vladivostok").encode()
    assert len(data) <= MAX_LORA_PAYLOAD
    d = decode("event", data)
    assert d["seq"] == 70001 % 65536 and d["class"] == "amur_leopard" and d["confidence"] == 93
    assert d["count"] == 2 and d["duration_s"] == 12
    assert d["flags"] == {"alert": True, "kept": True, "night": True, "clip": True, "motion_trigger": True,
                          "interrupted": False}
    # 2024-05-29 16:26:40 UTC = 2024-05-30 02:26 in Vladivostok (UTC+10)
    assert d["date"] == "2024-05-30" and d["minute"] == 2 * 60 + 26
    assert set(d) == {"kind", "seq", "day", "date", "minute", "class", "class_code", "confidence", "count",
                      "flags", "duration_s"}


def test_health_payload_from_snapshot():
    data = health_report({"battery_v": 12.345, "temperature_c": -23.6, "disk_free_pct": 41.2,
                          "uptime_s": 7 * 3600 + 5, "low_battery": True}, queue_depth=17).encode()
    d = decode("health", data)
    assert d["battery_mv"] == 12345 and d["temperature_c"] == -24 and d["disk_free_pct"] == 41
    assert d["queue_depth"] == 17 and d["uptime_h"] == 7 and d["flags"]["low_battery"] and not d["flags"]["disk_low"]


def test_config_downlink_round_trip_and_bad_downlinks():
    data = encode_config_downlink({"recorder.post_roll_s": 4.5, "uplink.lora.data_rate": 2})
    patch, problems = decode_config_downlink(data)
    assert problems == [] and patch == {"recorder": {"post_roll_s": 4.5}, "uplink": {"lora": {"data_rate": 2}}}
    assert decode_config_downlink(b"\x01\x00")[1]
    patch, problems = decode_config_downlink(b"\xfe\x00\x01")
    assert patch == {} and "unknown" in problems[0]
