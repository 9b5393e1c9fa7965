"""Health: battery through a mocked MCP3008 (gpiozero MockSPIDevice) and an INA219 (an SMBus
object passed in), CPU temperature, frame rate, low-battery mode, the daily health photo."""
from __future__ import annotations

import numpy as np
import pytest

from firmware.fieldunit.config import HealthConfig
from firmware.fieldunit.health import (
    CRITICAL, LOW, OK, BatteryState, CpuThermometer, DailyPhoto, FrameRate, Health,
    Ina219Battery, build_battery,
)
from firmware.fieldunit.storage import DiskUsage
from firmware.hardware import MainFrame
from hw_sim.clock import SimClock


class Mcp3008Chip:
    """The slave side of an MCP3008 on gpiozero's mock SPI pins: after the start bit, the
    single/differential bit and three channel bits it answers with a null bit and 10 data
    bits (sent as one 12-bit word after the 4 command bits)."""

    def __new__(cls, factory, volts_by_channel, vref=3.3):
        from gpiozero.pins.mock import MockSPIDevice

        class Chip(MockSPIDevice):
            def on_start(self):
                super().on_start()
                self.phase = "wait_start"

            def on_bit(self):
                if self.phase == "wait_start":
                    if self.rx_buf[-1]:
                        self.phase, self.rx_buf = "command", []
                elif self.phase == "command" and len(self.rx_buf) == 4:
                    single, channel = self.rx_buf[0], self.rx_word() & 0b111
                    assert single == 1, "the firmware reads single-ended"
                    self.channels_read.append(channel)
                    raw = round(min(volts_by_channel.get(channel, 0.0), vref) / vref * 1023)
                    self.tx_word(raw, 12)
                    self.phase = "reply"

        chip = Chip(11, 10, 9, 8, pin_factory=factory)
        chip.channels_read = []
        chip.phase = "wait_start"
        return chip


@pytest.fixture
def plain_factory():
    from gpiozero.pins.mock import MockFactory

    f = MockFactory()
    yield f
    f.reset()
    f.close()


def test_mcp3008_battery_through_divider(plain_factory, monkeypatch):
    # gpiozero 2.0.1's SPISoftwareBus calls Device.__init__() without the pin_factory it was
    # given, which makes gpiozero look for a default factory (none exists off a Pi). The mock
    # factory is therefore also the default for this one test; monkeypatch restores it after.
    from gpiozero import Device

    monkeypatch.setattr(Device, "pin_factory", plain_factory)
    # 12.6 V battery through a 5:1 divider is 2.52 V at the ADC's channel 2
    chip = Mcp3008Chip(plain_factory, {2: 2.52, 0: 3.0})
    cfg = HealthConfig(battery="mcp3008", mcp3008_channel=2, divider_ratio=5.0)
    bat = build_battery(cfg, pin_factory=plain_factory)
    try:
        v = bat.voltage()
        assert v == pytest.approx(12.6, abs=5 * 3.3 / 1023 * 1.01)
        assert chip.channels_read[-1] == 2
    finally:
        bat.close()
        chip.close()


class FakeSMBus:
    """Answers like smbus2.SMBus.read_word_data: little-endian word of a big-endian register."""

    def __init__(self, registers):
        self.registers = registers
        self.reads = []

    def read_word_data(self, addr, reg):
        self.reads.append((addr, reg))
        value = self.registers[(addr, reg)]
        return ((value & 0xFF) << 8) | (value >> 8)


def test_ina219_bus_voltage_register():
    raw = round(12.34 / 0.004) << 3 | 0b010  # CNVR bit set, OVF clear
    bus = FakeSMBus({(0x41, 0x02): raw})
    bat = build_battery(HealthConfig(battery="ina219", ina219_address=0x41), smbus=bus)
    assert isinstance(bat, Ina219Battery)
    assert bat.voltage() == pytest.approx(12.34, abs=0.004)
    assert bus.reads == [(0x41, 0x02)]
    bus.registers[(0x41, 0x02)] = raw | 1
    with pytest.raises(OSError, match="overflow"):
        bat.voltage()


def test_cpu_thermometer_reads_millidegrees(tmp_path):
    f = tmp_path / "temp"
    f.write_text("48312\n")
    assert CpuThermometer(f).celsius() == pytest.approx(48.312)


def test_frame_rate_over_window():
    fr = FrameRate(10)
    for i in range(301):
        fr.frame(i / 30)
    assert fr.fps() == pytest.approx(30, rel=0.01)
    assert fr.fps(now=10 + 30) == 0.0  # camera silent for 30 s


def test_low_battery_mode_two_thresholds_confirmation_hysteresis():
    changes = []
    st = BatteryState(HealthConfig(low_v=11.8, critical_v=11.2, hysteresis_v=0.2, confirm_readings=3),
                      on_change=lambda a, b, v: changes.append((a, b)))
    for v in (12.5, 11.5, 12.5, 11.5, 11.5):  # a single sag (IR flash) changes nothing
        st.update(v)
    assert st.state == OK
    st.update(11.5)
    assert st.state == LOW and not st.optional_uplinks_allowed and not st.shutdown_requested
    for _ in range(3):
        st.update(11.9)  # above low_v but inside the hysteresis band: stays low
    assert st.state == LOW
    for _ in range(3):
        st.update(11.0)
    assert st.state == CRITICAL and st.shutdown_requested
    for _ in range(3):
        st.update(12.2)
    assert st.state == OK
    assert changes == [(OK, LOW), (LOW, CRITICAL), (CRITICAL, OK)]


class _Volts:
    def __init__(self, v):
        self.v = v

    def voltage(self):
        return self.v


def test_health_report_with_all_readings(tmp_path):
    clock = SimClock(1.7e9)
    temp = tmp_path / "temp"
    temp.write_text("85000")
    bat = _Volts(12.0)
    uptime = tmp_path / "uptime"
    uptime.write_text("1234.5 100.0\n")
    from firmware.fieldunit.health import system_uptime
    h = Health(HealthConfig(max_cpu_c=80, interval_s=60), clock,
               disk=lambda: DiskUsage(100 * 2**20, 90 * 2**20, 10 * 2**20),
               battery=bat, thermometer=CpuThermometer(temp), uptime=lambda: system_uptime(uptime))
    assert h.due()
    for _ in range(50):
        h.frame()
        clock.sleep(0.2)
    r = h.check()
    assert r.battery_v == 12.0 and r.battery_state == OK
    assert r.cpu_hot and any("CPU at 85" in p for p in r.problems)
    assert r.disk_free_mb == pytest.approx(10) and r.uptime_s == 1234.5
    assert r.fps == pytest.approx(5, rel=0.05) and r.run_s == pytest.approx(10)
    assert not h.due()
    clock.sleep(120)
    bat.v = 11.0
    for _ in range(3):
        r = h.check()
    assert r.battery_state == CRITICAL and "no camera frames" in " ".join(r.problems)


def test_daily_health_photo(tmp_path):
    # 2024-01-15 02:00 UTC = 12:00 in Vladivostok (UTC+10)
    clock = SimClock(1705284000.0 - 3600)
    photo = DailyPhoto("12:00", "Asia/Vladivostok", clock, tmp_path)
    assert not photo.due() and photo.seconds_until_next() == pytest.approx(3600)

    class Cam:
        def capture_main(self):
            rgb = np.zeros((120, 160, 3), np.uint8)
            rgb[:, :80] = (200, 30, 30)
            return MainFrame(rgb, 0)

    clock.sleep(3601)
    assert photo.due()
    path = photo.take(Cam())
    assert path == tmp_path / "health" / "2024-01-15.jpg"
    import cv2
    img = cv2.imread(str(path))
    assert img.shape == (120, 160, 3) and img[60, 20, 2] > 150  # red survived (BGR order)
    assert not photo.due()
    clock.sleep(86400)
    assert photo.due()
