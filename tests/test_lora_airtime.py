"""Airtime (Semtech AN1200.13) against FIELD_NOTES check values; duty cycle; daily budget."""
from __future__ import annotations

import pytest

from firmware.uplink.airtime import MAX_PAYLOAD, airtime_s, dr_airtime_s, off_time_s
from firmware.uplink.config import LoraConfig
from firmware.uplink.lora import AirtimeBudget
from firmware.uplink.queue import ALERT, DAILY, EVENT, HEALTH, Message
from hw_sim.clock import SimClock


@pytest.mark.parametrize("payload,sf,ms", [(12, 7, 61.7), (12, 12, 1482.8), (51, 7, 118.0), (51, 12, 2793.5)])
def test_airtime_check_values(payload, sf, ms):
    assert airtime_s(payload, sf) * 1000 == pytest.approx(ms, abs=0.05)


def test_airtime_grows_with_payload_and_sf():
    assert dr_airtime_s(11, 0) > dr_airtime_s(11, 1) > dr_airtime_s(11, 5)
    assert dr_airtime_s(11, 0) >= dr_airtime_s(5, 0)


def test_off_time_one_percent():
    assert off_time_s(1.0, 0.01) == pytest.approx(99.0)


def test_as923_dwell_limit_table_allows_11_bytes_from_dr2():
    assert MAX_PAYLOAD["AS923"][2] == 11 and MAX_PAYLOAD["AS923"][0] is None


def _msg(prio, kind, n=10):
    return Message(id=f"{kind}{prio}", kind=kind, priority=prio, leopard=False, created=0, topic="t", body=b"",
                   lora=bytes(n), lora_port=1, confirmed=False, pending=2, attempts=0)


def test_budget_spend_plan_and_duty():
    store = {}
    clock = SimClock(start_epoch=1_717_000_000.0)
    cfg = LoraConfig(daily_airtime_s=10.0, alert_reserve_s=4.0)
    b = AirtimeBudget(cfg, clock, "UTC", lambda k, d: store.get(k, d), store.__setitem__)
    at = dr_airtime_s(10, 0)  # ~1.4 s at SF12
    assert b.plan(_msg(EVENT, "event"), 0) == "send"
    b.spend(at)
    assert not b.duty_ok()
    clock.sleep(off_time_s(at, 0.01) + 0.001)
    assert b.duty_ok()
    for _ in range(3):
        b.spend(at)
    # 4 x 1.4 = 5.7 s used, 4.3 left: an ordinary event would eat the 4 s reserve -> folded
    assert b.plan(_msg(EVENT, "event"), 0) == "fold"
    assert b.plan(_msg(HEALTH, "health", 9), 0) == "fold"
    assert b.plan(_msg(ALERT, "event"), 0) == "send"
    assert b.plan(_msg(DAILY, "daily", 11), 0) == "send"
    for _ in range(3):
        b.spend(at)
    assert b.plan(_msg(ALERT, "event"), 0) == "wait"
    clock.sleep(86400)  # a new day: the budget is back
    assert b.remaining() == pytest.approx(10.0)
    assert store["lora_airtime_total"] == pytest.approx(7 * at)
