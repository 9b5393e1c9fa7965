"""Day/night: the light level, with hysteresis, moves the IR-cut filter; IR LEDs shine only
while an event is recorded at night.

- Night begins below `dark_lux` and ends above `light_lux` (two thresholds, so a level that
  hovers near one of them does not make the filter chatter).
- After a switch the state holds for `min_dwell_s` (headlights, a torch, lightning).
- No switching while recording: the IR LEDs light the scene, and the clip should not change
  look halfway; the check runs again after the event.
- Every switch calls the illumination's `on_switch` callback, which the main loop points at the
  motion check's background reset: the firmware's own light change never looks like motion.
"""
from __future__ import annotations

import logging
from typing import Any

from ..clock import Clock
from ..hardware import LightSensor

log = logging.getLogger(__name__)


class DayNight:
    def __init__(self, light: LightSensor, illumination: Any, clock: Clock,
                 dark_lux: float, light_lux: float, min_dwell_s: float = 60.0):
        if light_lux <= dark_lux:
            raise ValueError("light_lux must be above dark_lux (hysteresis)")
        self.light = light
        self.illumination = illumination
        self.clock = clock
        self.dark_lux = dark_lux
        self.light_lux = light_lux
        self.min_dwell_s = min_dwell_s
        self.is_recording = False
        self.last_switch: float | None = None
        self.last_lux: float | None = None
        self.switches = 0

    @classmethod
    def from_config(cls, cfg: Any, light: LightSensor, illumination: Any, clock: Clock,
                    min_dwell_s: float = 60.0) -> "DayNight":
        """From the `[illumination]` section (dark_lux, light_lux)."""
        return cls(light, illumination, clock, cfg.dark_lux, cfg.light_lux, min_dwell_s)

    @property
    def night(self) -> bool:
        return bool(self.illumination.night)

    def update(self, force: bool = False) -> bool:
        """Read the light and move the IR-cut filter if needed; returns whether it is night.
        `force` (start-up) ignores the dwell time."""
        lux = float(self.light.lux())
        self.last_lux = lux
        if self.is_recording:
            return self.night
        now = self.clock.monotonic()
        if not force and self.last_switch is not None and now - self.last_switch < self.min_dwell_s:
            return self.night
        want = self.night
        if not self.night and lux < self.dark_lux:
            want = True
        elif self.night and lux > self.light_lux:
            want = False
        if want != self.night:
            log.info("%.1f lux: switching to %s", lux, "night" if want else "day")
            self.illumination.set_night(want)
            self.last_switch = now
            self.switches += 1
        return self.night

    def recording(self, on: bool) -> None:
        """An event starts (True) or ends (False): IR LEDs on only while recording at night."""
        self.is_recording = on
        self.illumination.set_leds(on and self.night)
