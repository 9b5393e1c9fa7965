"""Device code built on gpiozero, identical on a Pi and in the simulator.

The seam is gpiozero's pin factory: on a unit it is gpiozero's default (lgpio); in the
simulator and tests it is gpiozero's own `MockFactory`, whose pins behave like hardware
(`drive_high` fires edges). The factory is passed in explicitly; nothing global is changed.
"""
from __future__ import annotations

import threading
from typing import Any, Callable

from .clock import Clock


class Pir:
    """A PIR motion sensor on a GPIO pin (HC-SR501 style: a clean digital output).

    Each rising edge records the clock's time and sets `triggered`, which the main loop waits on.
    """

    def __init__(self, pin: int, clock: Clock, pin_factory: Any = None, active_high: bool = True):
        from gpiozero import DigitalInputDevice

        self._clock = clock
        self._lock = threading.Lock()
        self.triggered = threading.Event()
        self.count = 0
        self.last_trigger: float | None = None
        self.device = DigitalInputDevice(
            pin, pull_up=None, active_state=active_high, pin_factory=pin_factory
        )
        self.device.when_activated = self._on_activated

    def _on_activated(self, *_: object) -> None:
        with self._lock:
            self.count += 1
            self.last_trigger = self._clock.now()
        self.triggered.set()

    @property
    def is_active(self) -> bool:
        return bool(self.device.is_active)

    def take(self) -> float | None:
        """Consume a pending trigger: its time, or None when there was none."""
        with self._lock:
            if not self.triggered.is_set():
                return None
            self.triggered.clear()
            return self.last_trigger

    def close(self) -> None:
        self.device.close()


class Illumination:
    """IR-cut filter (a digital output) and IR LEDs (PWM) on GPIO pins.

    Every switch calls `on_switch` so the motion check can reset its background: the firmware's
    own light change must never look like motion.
    """

    def __init__(
        self,
        ir_cut_pin: int | None,
        ir_led_pin: int | None,
        led_brightness: float,
        pin_factory: Any = None,
        on_switch: Callable[[str], None] | None = None,
    ):
        from gpiozero import DigitalOutputDevice, PWMLED

        self.led_brightness = led_brightness
        self.on_switch = on_switch
        self.ir_cut = (
            DigitalOutputDevice(ir_cut_pin, initial_value=True, pin_factory=pin_factory)
            if ir_cut_pin is not None else None
        )
        self.leds = PWMLED(ir_led_pin, pin_factory=pin_factory) if ir_led_pin is not None else None

    @property
    def night(self) -> bool:
        """True when the IR-cut filter is out (the camera sees infrared)."""
        return self.ir_cut is not None and not self.ir_cut.value

    @property
    def leds_on(self) -> bool:
        return self.leds is not None and self.leds.value > 0

    def set_night(self, night: bool) -> None:
        if self.ir_cut is None or self.night == night:
            return
        # filter in (value 1) by day, out at night
        self.ir_cut.value = 0 if night else 1
        self._switched("ir_cut")

    def set_leds(self, on: bool) -> None:
        if self.leds is None or self.leds_on == on:
            return
        self.leds.value = self.led_brightness if on else 0.0
        self._switched("ir_leds")

    def _switched(self, what: str) -> None:
        if self.on_switch is not None:
            self.on_switch(what)

    def close(self) -> None:
        for dev in (self.ir_cut, self.leds):
            if dev is not None:
                dev.close()
