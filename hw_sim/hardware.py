"""Builds the firmware's Hardware from simulator parts.

The PIR, IR-cut filter and IR LEDs are the firmware's own gpiozero devices on gpiozero's
MockFactory pins; the scenario drives the PIR pin (`drive_high`/`drive_low`) at the times its
world says, and the camera reads the illumination pins to light its frames.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable

from firmware.config import Config
from firmware.devices import Illumination, Pir
from firmware.fieldunit.storage import MB, FolderDisk
from firmware.hardware import Hardware

from .camera import SimCamera, World
from .clock import SimClock
from .scenario import CameraStall, Unit


class SimLightSensor:
    """Ambient light as the scene has it (a unit would read an LDR or the camera's lux)."""

    def __init__(self, world: Any, clock: SimClock):
        self.world, self.clock = world, clock

    def lux(self) -> float:
        return float(self.world.lux(self.clock.elapsed))


class SimThermometer:
    """A CPU thermometer that reads what the scenario says."""

    def __init__(self, celsius: float):
        self.value = celsius

    def celsius(self) -> float:
        return self.value


class SimBattery:
    """A battery that drains linearly from `start_v` by `drain_v_per_day`."""

    def __init__(self, clock: SimClock, start_v: float = 13.2, drain_v_per_day: float = 0.05):
        self.clock, self.start_v, self.drain = clock, start_v, drain_v_per_day

    def voltage(self) -> float:
        return self.start_v - self.drain * self.clock.elapsed / 86400.0


def build_sim_hardware(cfg: Config, world: World, clock: SimClock, pin_factory: Any,
                       unit: Unit | None = None) -> Hardware:
    """The unit's hardware on the simulator; `unit` is the scenario's `[unit]` (card, battery)."""
    pir = Pir(cfg.pir.pin, clock, pin_factory=pin_factory, active_high=cfg.pir.active_high) \
        if cfg.pir.enabled else None
    ic = cfg.illumination
    ill = Illumination(ic.ir_cut_pin, ic.ir_led_pin, ic.led_brightness, pin_factory=pin_factory)
    cam = SimCamera(world, clock, cfg.camera.main_size, cfg.camera.lores_size, cfg.camera.fps,
                    buffer_s=cfg.recorder.pre_roll_s, lighting=lambda: (ill.night, ill.leds_on),
                    bitrate=cfg.camera.bitrate)
    unit = unit or Unit()
    disk = FolderDisk(Path(cfg.paths.data_dir), int(unit.disk_mb * MB)) if unit.disk_mb else None
    thermometer = SimThermometer(unit.cpu_temp_c) if unit.cpu_temp_c is not None else None
    return Hardware(camera=cam, pir=pir, light=SimLightSensor(world, clock), illumination=ill,
                    battery=SimBattery(clock, unit.battery_start_v, unit.battery_drain_v_per_day),
                    thermometer=thermometer, disk=disk)


def drive_world(clock: SimClock, pin_factory: Any, cfg: Config, world: Any, hw: Hardware,
                stalls: Iterable[CameraStall] = ()) -> None:
    """Schedule what the scenario does to the unit's sensors: the PIR output, camera stalls."""
    if cfg.pir.enabled:
        drive_pir(clock, pin_factory, cfg.pir.pin, world.pir_windows(), cfg.pir.active_high)
    for stall in stalls:
        clock.call_at(stall.at, lambda: setattr(hw.camera, "stalled", True))
        clock.call_at(stall.at + stall.duration_s, lambda: setattr(hw.camera, "stalled", False))


def drive_pir(clock: SimClock, pin_factory: Any, pin: int, windows, active_high: bool = True) -> None:
    """Schedule the PIR output: high during each (t_on, t_off) window of the scenario."""
    mock_pin = pin_factory.pin(pin)
    hi, lo = (mock_pin.drive_high, mock_pin.drive_low) if active_high else (mock_pin.drive_low, mock_pin.drive_high)
    for t_on, t_off, _cause in sorted(windows):
        clock.call_at(t_on, hi)
        clock.call_at(t_off, lo)
