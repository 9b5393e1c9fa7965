"""LoRaWAN driver against the modem simulator on a real pseudo-terminal, in simulated time."""
from __future__ import annotations

import pytest
import serial
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from firmware.config import parse_config
from firmware.eventlog import Event
from firmware.uplink.at_modem import ModemLink, Rak3172, WioE5
from firmware.uplink.payload import MAX_LORA_PAYLOAD, decode, encode_config_downlink
from firmware.uplink.service import Uplink
from hw_sim.clock import SimClock
from hw_sim.modem import ModemSim

T0 = 1_717_000_000.0 - (1_717_000_000 % 86400) + 3600  # 01:00 UTC


@pytest.fixture
def clock():
    return SimClock(start_epoch=T0)


@pytest.fixture
def modem(clock):
    m = ModemSim(clock=clock)
    yield m
    m.close()


def make(tmp_path, modem, clock, **lora):
    lora = {"enabled": True, "port": modem.port, "modem": modem.dialect, "join_retry_s": 60, **lora}
    root = parse_config({"device": {"timezone": "UTC"}, "uplink": {"enabled": True, "lora": lora}})
    return Uplink(root.uplink, "u1", tmp_path / "data", clock, root_config=root, timezone="UTC")


def run(up, clock, seconds, step=2.0, until=None):
    end = clock.elapsed + seconds
    while clock.elapsed < end:
        up.tick()
        if until is not None and until():
            return True
        clock.sleep(step)
    return until() if until is not None else True


def ev(i, label="deer", t=None):
    t = T0 + 60 * i if t is None else t
    return Event(id=f"e{i}", seq=i, start=t, end=t + 5, trigger="pir", trigger_time=t, status="done",
                 decision="kept", label=label, score=0.8)


def test_join_then_send_by_priority_within_limits(tmp_path, modem, clock):
    up = make(tmp_path, modem, clock)
    for i in range(3):
        up.event(ev(i), alert=False)
    up.event(ev(3, "amur_leopard"), alert=True)
    up.health({"battery_v": 12.0, "uptime_s": 3600})
    assert run(up, clock, 3600, until=lambda: len(up.queue) == 0)
    assert modem.joins == 1 and modem.commands.count("AT+NJS=?") >= 1
    kinds = [(u.port, u.confirmed) for u in modem.uplinks]
    assert kinds[0] == (1, True)  # the leopard first, confirmed
    first = decode("event", modem.uplinks[0].data)
    assert first["class"] == "amur_leopard" and first["flags"]["alert"]
    assert all(len(u.data) <= MAX_LORA_PAYLOAD for u in modem.uplinks)
    assert [u.port for u in modem.uplinks].count(1) == 4 and [u.port for u in modem.uplinks].count(3) == 1
    # duty cycle respected: each uplink starts after the previous one's off-time
    gaps = [b.at - a.at for a, b in zip(modem.uplinks, modem.uplinks[1:], strict=False)]
    assert min(gaps) >= 99 * 1.48 * 0.99
    s = up.stats()
    assert s["lora_sent"] == 5 and s["lora_bytes_max"] == 10 and 7 < s["lora_airtime_s"] < 8
    up.close()


def test_no_rejoin_while_modem_says_joined(tmp_path, modem, clock):
    up = make(tmp_path, modem, clock)
    up.event(ev(1), alert=False)
    assert run(up, clock, 600, until=lambda: len(up.queue) == 0)
    up.close()
    up = make(tmp_path, modem, clock)  # a restart of the firmware, modem still joined
    up.event(ev(2), alert=False)
    assert run(up, clock, 600, until=lambda: len(up.queue) == 0)
    assert modem.joins == 1
    modem.joined = False  # the modem lost its session (e.g. power cycled)
    up.event(ev(3), alert=False)
    assert run(up, clock, 600, until=lambda: len(up.queue) == 0)
    assert modem.joins == 2
    up.close()


def test_no_coverage_backs_off_then_joins(tmp_path, clock):
    state = {"up": False}
    modem = ModemSim(clock=clock, coverage=lambda sf: state["up"])
    try:
        up = make(tmp_path, modem, clock)
        up.event(ev(1, "amur_leopard"), alert=True)
        run(up, clock, 3 * 3600, step=10)
        assert len(up.queue) == 1 and not modem.uplinks
        tries = modem.joins
        assert 3 <= tries <= 12  # backoff doubles from 60 s: not one join per tick
        state["up"] = True
        assert run(up, clock, 6 * 3600, step=10, until=lambda: len(up.queue) == 0)
        assert modem.uplinks[-1].heard
        up.close()
    finally:
        modem.close()


def test_busy_and_duty_refusals_are_retried(tmp_path, clock):
    modem = ModemSim(clock=clock, duty_cycle=0.01)
    try:
        up = make(tmp_path, modem, clock, duty_cycle=1.0)  # driver ignores duty: the modem refuses
        for i in range(4):
            up.event(ev(i), alert=False)
        assert run(up, clock, 4 * 3600, step=1, until=lambda: len(up.queue) == 0)
        assert len(modem.uplinks) == 4
        refusals = [c for c in modem.commands if c.startswith("AT+SEND")]
        assert len(refusals) > 4  # some sends were refused (AT_BUSY_ERROR) and retried
        up.close()
    finally:
        modem.close()


def test_confirmed_failures_are_retried_unconfirmed_loss_is_not_seen(tmp_path, clock):
    modem = ModemSim(clock=clock, loss=0.5, seed=3)
    try:
        up = make(tmp_path, modem, clock, daily_airtime_s=300, alert_reserve_s=10)
        up.event(ev(1, "amur_leopard"), alert=True)
        assert run(up, clock, 6 * 3600, step=5, until=lambda: len(up.queue) == 0)
        assert any(u.heard for u in modem.uplinks)
        assert modem.uplinks[-1].confirmed
        up.close()
    finally:
        modem.close()


def test_budget_folds_ordinary_events_into_daily_summary(tmp_path, modem, clock):
    up = make(tmp_path, modem, clock, daily_airtime_s=8, alert_reserve_s=3)
    for i in range(10):
        up.event(ev(i), alert=False)
    up.event(ev(10, "amur_leopard"), alert=True)
    run(up, clock, 20 * 3600, step=30)
    day0 = [u for u in modem.uplinks if u.at < T0 + 23 * 3600]
    airtime = sum(1.4828 if len(u.data) <= 12 else 0 for u in day0)
    assert airtime <= 8.0
    assert decode("event", modem.uplinks[0].data)["class"] == "amur_leopard"
    run(up, clock, 30 * 3600, step=60, until=lambda: any(u.port == 2 for u in modem.uplinks))
    daily = [decode("daily", u.data) for u in modem.uplinks if u.port == 2]
    assert daily and daily[0]["folded"] > 0 and daily[0]["leopards"] == 1 and daily[0]["triggers"] == 11
    sent_events = sum(1 for u in day0 if u.port == 1)
    assert sent_events + daily[0]["folded"] == 11
    assert up.stats()["lost"] == 0
    up.close()


def test_downlink_remote_config_applied_and_acked(tmp_path, modem, clock):
    applied = []
    up = make(tmp_path, modem, clock)
    up.on_remote_config = applied.append
    modem.downlinks.append((10, encode_config_downlink({"recorder.post_roll_s": 5.0})))
    up.event(ev(1), alert=False)
    assert run(up, clock, 3600, until=lambda: any(u.port == 4 for u in modem.uplinks))
    assert applied and applied[0].recorder.post_roll_s == 5.0
    ack = decode("ack", [u for u in modem.uplinks if u.port == 4][0].data)
    assert ack["accepted"]
    # a bad value is refused and the config stays
    modem.downlinks.append((10, encode_config_downlink({"recorder.post_roll_s": 200.0})))
    up.event(ev(2), alert=False)
    assert run(up, clock, 3600, until=lambda: sum(u.port == 4 for u in modem.uplinks) == 2)
    ack = decode("ack", [u for u in modem.uplinks if u.port == 4][1].data)
    assert not ack["accepted"] and ack["first_refused_code"] == 1
    assert up.root_config.recorder.post_roll_s == 5.0 and len(applied) == 1
    up.close()


def test_wio_e5_dialect(tmp_path, clock):
    modem = ModemSim(clock=clock, dialect="wio-e5")
    try:
        up = make(tmp_path, modem, clock)
        up.event(ev(1, "amur_leopard"), alert=True)
        up.event(ev(2), alert=False)
        assert run(up, clock, 3600, until=lambda: len(up.queue) == 0)
        assert [u.confirmed for u in modem.uplinks] == [True, False]
        assert any(c.startswith('AT+CMSGHEX="') for c in modem.commands)
        up.close()
    finally:
        modem.close()


LINES = st.one_of(
    st.binary(max_size=80),
    st.sampled_from([b"OK\r\n", b"AT_BUSY_ERROR\r\n", b"+EVT:TX_DONE\r\n", b"+EVT:RX_1:-1:2:UNICAST:10:ZZ\r\n",
                     b"+EVT:RX_1:-1:2:UNICAST:10:0\r\n", b"+EVT:RX_1:x:y:UNICAST:999:\r\n", b"\xff\xfe\r\n",
                     b"+EVT:SEND_CONFIRMED_FAILED(\r\n", b"+MSGHEX: PORT: 1; RX: \"0\"\r\n", b"+JOIN: Done\r\n",
                     b"A" * 700, b"\r\n\r\n", b"+EVT:JOINED\r\n", b"+EVT:RX_2:-90:3:UNICAST:10:FE0001\r\n"]))


@pytest.mark.parametrize("dialect", ["rak3172", "wio-e5"])
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(noise=st.lists(LINES, max_size=12))
def test_fuzzed_modem_lines_never_crash_the_driver(tmp_path_factory, dialect, noise):
    clock = SimClock(start_epoch=T0)
    modem = ModemSim(clock=clock, dialect=dialect)
    try:
        up = make(tmp_path_factory.mktemp("fz"), modem, clock, command_timeout_s=0.3)
        up.event(ev(1), alert=False)
        for chunk in noise:
            modem.write_raw(chunk)
            up.tick()
            clock.sleep(3)
        run(up, clock, 1800, step=5, until=lambda: len(up.queue) == 0)
        assert up.stats()["queued"] in (0, 1)
        up.close()
    finally:
        modem.close()


@pytest.mark.parametrize("cls", [Rak3172, WioE5])
@given(text=st.text(max_size=120))
def test_classify_any_text(cls, text):
    line = cls().classify(text)
    assert line.kind


def test_modem_link_reads_until_terminal_line(clock):
    modem = ModemSim(clock=clock)
    try:
        ser = serial.Serial(modem.port, 115200, timeout=0)
        link = ModemLink(ser, Rak3172())
        reply, values = link.command("AT+NJS=?", 2.0)
        assert reply.kind == "ok" and values[0].value == "0"
        assert link.command("AT+SEND=1:ABC", 2.0)[0].kind == "error"
        assert link.command("AT+SEND=1:AB", 2.0)[0].kind == "no_join"
        ser.close()
    finally:
        modem.close()
