"""The uplink in the simulator: coverage windows, 7-day outage, LoRa budget, nothing lost."""
from __future__ import annotations

import pytest

from firmware.config import parse_config
from firmware.eventlog import Event
from firmware.uplink.airtime import dr_airtime_s
from firmware.uplink.payload import MAX_LORA_PAYLOAD, decode, local_day_minute
from hw_sim.clock import SimClock
from hw_sim.coverage import Coverage, CoverageError, build_sim_uplink

DAY = 86400.0
T0 = 1_735_689_600.0 - 10 * 3600  # 2025-01-01 00:00 in Vladivostok (UTC+10)


def unit_config(data_dir):
    return parse_config({
        "device": {"id": "ridge-3", "timezone": "Asia/Vladivostok"},
        "paths": {"data_dir": str(data_dir)},
        "uplink": {"enabled": True, "mqtt": {"enabled": True}, "lora": {"enabled": True, "data_rate": 0}},
    })


def test_coverage_spec():
    c = Coverage.from_spec({"mqtt_period_s": 21600, "mqtt_window_s": 600, "lora_sf": [12],
                            "outages": [[0, 7 * DAY]]})
    assert not c.mqtt_up(100) and not c.lora_hears(12, 100)
    assert c.mqtt_up(7 * DAY + 10) and not c.mqtt_up(7 * DAY + 700) and c.mqtt_up(7 * DAY + 21600 + 5)
    assert c.lora_hears(12, 7 * DAY) and not c.lora_hears(7, 7 * DAY)
    with pytest.raises(CoverageError, match="unknown keys"):
        Coverage.from_spec({"mqtt_every": 5})
    with pytest.raises(CoverageError):
        Coverage.from_spec({"lora_sf": [13]})


def test_seven_day_outage_then_reconnect(tmp_path):
    clock = SimClock(start_epoch=T0)
    cfg = unit_config(tmp_path)
    sim = build_sim_uplink(cfg, tmp_path, clock, {"mqtt_period_s": 21600, "mqtt_window_s": 600,
                                                  "lora_sf": [12], "outages": [[0, 7 * DAY]]})
    seq = 0
    leopards = []

    def event(label, decision, alert=False):
        nonlocal seq
        seq += 1
        if label == "amur_leopard":
            leopards.append(f"ev-ev{seq}")
        t = clock.now()
        sim.event(Event(id=f"ev{seq}", seq=seq, start=t, end=t + 6, trigger="pir", trigger_time=t, status="done",
                        decision=decision, label=label, score=0.9), alert)

    for d in range(7):
        for h in range(24):
            clock.call_at(d * DAY + h * 3600 + 30, lambda: sim.health({"battery_v": 12.8, "uptime_s": clock.elapsed}))
        for k in range(20):
            clock.call_at(d * DAY + 1800 + k * 3000, lambda: event("blank", "discarded"))
        for k in range(3):
            clock.call_at(d * DAY + 7200 + k * 20000, lambda: event("deer", "kept"))
    clock.call_at(3 * DAY + 5000, lambda: event("amur_leopard", "kept", alert=True))
    while clock.elapsed < 9 * DAY:
        sim.tick()
        clock.sleep(60)
    s = sim.stats()
    sim.close()
    assert s["lost"] == 0 and s["queued"] == 0
    leopard_id, = leopards
    after = [r for r in sim.network.received if r[2] >= 7 * DAY]
    assert not [r for r in sim.network.received if r[2] < 7 * DAY]  # nothing went out in the outage
    assert after[0][0] == leopard_id  # the leopard first over MQTT ...
    # LoRa joins seconds after MQTT has delivered the leopard in full: it then owes no compact copy of
    # what already arrived, and carries only what MQTT has not (here: the daily summaries)
    kinds = {1: "event", 2: "daily", 3: "health", 4: "ack"}
    for u in sim.modem.uplinks:
        assert u.at >= 7 * DAY and decode(kinds[u.port], u.data)
    kept_ids = {i for i, topic, _ in sim.network.received if topic == "events"}
    assert len(kept_ids) == 7 * 3 + 1
    dailies = {i for i, topic, _ in sim.network.received if topic == "daily"}
    assert len(dailies) >= 7
    assert all(len(u.data) <= MAX_LORA_PAYLOAD for u in sim.modem.uplinks)
    per_day: dict[int, float] = {}
    for u in sim.modem.uplinks:
        day = local_day_minute(u.at, "Asia/Vladivostok")[0]
        per_day[day] = per_day.get(day, 0.0) + dr_airtime_s(len(u.data), 0)
    assert per_day and max(per_day.values()) <= cfg.uplink.lora.daily_airtime_s
    assert s["lora_bytes_max"] <= 11 and s["mqtt_sent"] >= 7 * 24 // 24 + 22
