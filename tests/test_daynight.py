"""Day/night on gpiozero's MockFactory pins: hysteresis, dwell, LEDs only while recording at
night, every switch resets the motion check."""
from __future__ import annotations

import pytest

from firmware.devices import Illumination
from firmware.fieldunit.daynight import DayNight
from hw_sim.clock import SimClock


class Light:
    def __init__(self, lux):
        self.level = lux

    def lux(self):
        return self.level


@pytest.fixture
def rig(mock_factory):
    resets = []
    ill = Illumination(26, 18, 0.8, pin_factory=mock_factory, on_switch=resets.append)
    light = Light(500.0)
    clock = SimClock(1.7e9)
    dn = DayNight(light, ill, clock, dark_lux=5, light_lux=15, min_dwell_s=60)
    yield dn, ill, light, clock, resets, mock_factory
    ill.close()


def test_dusk_and_dawn_with_hysteresis(rig):
    dn, ill, light, clock, resets, factory = rig
    cut_pin = factory.pin(26)
    assert not dn.update() and cut_pin.state == 1  # day: filter in
    for lux in (10, 6, 5.5):  # between the thresholds: still day
        light.level = lux
        clock.sleep(120)
        assert not dn.update()
    light.level = 4
    assert dn.update() and cut_pin.state == 0  # night: filter out
    assert resets == ["ir_cut"]
    for lux in (6, 10, 14.9):  # back inside the band: still night
        light.level = lux
        clock.sleep(120)
        assert dn.update()
    light.level = 20
    clock.sleep(120)
    assert not dn.update() and cut_pin.state == 1
    assert resets == ["ir_cut", "ir_cut"] and dn.switches == 2


def test_dwell_time_ignores_a_passing_torch(rig):
    dn, ill, light, clock, resets, _ = rig
    light.level = 1
    dn.update()
    assert dn.night
    clock.sleep(10)
    light.level = 800  # a torch 10 s after dusk
    assert dn.update(), "switched back inside the dwell time"
    clock.sleep(60)
    light.level = 1
    assert dn.update() and dn.switches == 1


def test_leds_only_while_recording_at_night(rig):
    dn, ill, light, clock, resets, factory = rig
    led_pin = factory.pin(18)
    dn.update()
    dn.recording(True)  # day: no LEDs
    assert not ill.leds_on and led_pin.state == 0
    dn.recording(False)
    light.level = 1
    clock.sleep(120)
    dn.update()
    resets.clear()
    dn.recording(True)
    assert ill.leds_on and led_pin.state == pytest.approx(0.8)
    assert resets == ["ir_leds"]
    light.level = 900  # the LEDs (or anything) light the sensor mid-event: no switch
    clock.sleep(300)
    assert dn.update() and dn.night
    dn.recording(False)
    assert not ill.leds_on and led_pin.state == 0
    assert resets == ["ir_leds", "ir_leds"]
    assert not dn.update()  # after the event the day is seen


def test_bad_thresholds_refused(rig):
    dn, ill, light, clock, *_ = rig
    with pytest.raises(ValueError, match="hysteresis"):
        DayNight(light, ill, clock, dark_lux=10, light_lux=10)
