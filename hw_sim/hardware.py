"""Builds the firmware's Hardware from simulator parts.

The PIR, IR-cut filter and IR LEDs are the firmware's own gpiozero devices on gpiozero's
MockFactory pins; the scenario drives the PIR pin (`drive_high`/`drive_low`) at the times its
world says, and the camera reads the illumination pins to light its frames.
"""
from __future__ import annotations

from typing import Any

from firmware.config import Config
from firmware.devices import Illumination, Pir
from firmware.hardware import Hardware

from .camera import SimCamera, World
from .clock import SimClock


class SimLightSensor:
    """Ambient light as the scene has it (a unit would read an LDR or the camera's lux)."""

    def __init__(self, world: Any, clock: SimClock):
        self.world, self.clock = world, clock

    def lux(self) -> float:
        return float(self.world.lux(self.clock.elapsed))


class SimBattery:
    """A battery that drains linearly from `start_v` by `drain_v_per_day`."""

    def __init__(self, clock: SimClock, start_v: float = 13.2, drain_v_per_day: float = 0.05):
        self.clock, self.start_v, self.drain = clock, start_v, drain_v_per_day

    def voltage(self) -> float:
        return self.start_v - self.drain * self.clock.elapsed / 86400.0


def build_sim_hardware(cfg: Config, world: World, clock: SimClock, pin_factory: Any) -> Hardware:
    pir = Pir(cfg.pir.pin, clock, pin_factory=pin_factory, active_high=cfg.pir.active_high) \
        if cfg.pir.enabled else None
    ic = cfg.illumination
    ill = Illumination(ic.ir_cut_pin, ic.ir_led_pin, ic.led_brightness, pin_factory=pin_factory)
    cam = SimCamera(world, clock, cfg.camera.main_size, cfg.camera.lores_size, cfg.camera.fps,
                    buffer_s=cfg.recorder.pre_roll_s, lighting=lambda: (ill.night, ill.leds_on),
                    bitrate=cfg.camera.bitrate)
    return Hardware(camera=cam, pir=pir, light=SimLightSensor(world, clock), illumination=ill,
                    battery=SimBattery(clock))


def drive_pir(clock: SimClock, pin_factory: Any, pin: int, windows, active_high: bool = True) -> None:
    """Schedule the PIR output: high during each (t_on, t_off) window of the scenario."""
    mock_pin = pin_factory.pin(pin)
    hi, lo = (mock_pin.drive_high, mock_pin.drive_low) if active_high else (mock_pin.drive_low, mock_pin.drive_high)
    for t_on, t_off, _cause in sorted(windows):
        clock.call_at(t_on, hi)
        clock.call_at(t_off, lo)
