"""Ambient light of a scenario: the sun by local time, clouds, and what the camera makes of it.

`lux(t)` is what the unit's light sensor reads. `exposure(t)` is the camera's response: its auto
exposure follows the light with a lag of about two seconds, so a cloud edge gives a brightness
jump in the frames (the firmware's motion check must reject it) that fades as exposure adapts;
below ~40 lux the exposure runs out and frames darken and get noisy.
"""
from __future__ import annotations

import math

from firmware.clock import parse_hhmm

from .scenario import Scenario

SUNSET_LUX = 400.0  # sun on the horizon
FULL_EXPOSURE_LUX = 40.0  # below this the camera's gain runs out
AE_LAG_S = (0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 1.75, 2.0)


def _hours(hhmm: str) -> float:
    h, m = parse_hhmm(hhmm)
    return h + m / 60.0


class Light:
    def __init__(self, scenario: Scenario):
        self.sc = scenario
        site = scenario.site
        self.sunrise = _hours(site.sunrise)
        self.sunset = _hours(site.sunset)
        self.twilight_h = site.twilight_min / 60.0
        self.max_lux = site.max_lux
        self.night_lux = site.night_lux
        self.clouds = [(c.at, c.at + c.duration_s, c.factor, max(c.ramp_s, 1e-3)) for c in scenario.clouds]

    def sun_lux(self, t: float) -> float:
        h = self.sc.local_hours(t)
        if self.sunrise <= h <= self.sunset:
            f = (h - self.sunrise) / (self.sunset - self.sunrise)
            return SUNSET_LUX + (self.max_lux - SUNSET_LUX) * math.sin(math.pi * f)
        # twilight: from 400 lux at the horizon down to night over twilight_min (log-linear)
        after = (h - self.sunset) % 24.0
        before = (self.sunrise - h) % 24.0
        dt = min(after, before)
        if dt >= self.twilight_h:
            return self.night_lux
        frac = dt / self.twilight_h
        night = max(self.night_lux, 0.01)
        return max(self.night_lux, SUNSET_LUX * (night / SUNSET_LUX) ** frac)

    def cloud_factor(self, t: float) -> float:
        f = 1.0
        for t0, t1, factor, ramp in self.clouds:
            if t0 <= t <= t1 + ramp:
                k = min(1.0, (t - t0) / ramp) if t <= t1 else max(0.0, 1.0 - (t - t1) / ramp)
                f *= 1.0 - (1.0 - factor) * k
        return f

    def lux(self, t: float) -> float:
        return self.sun_lux(t) * self.cloud_factor(t)

    def is_night(self, t: float) -> bool:
        return self.sun_lux(t) < 10.0

    def exposure(self, t: float) -> tuple[float, float]:
        """(brightness gain for a fully lit scene's reflectance, sensor noise sigma in DN)."""
        now = self.lux(t)
        ae = sum(self.lux(t - d) for d in AE_LAG_S) / len(AE_LAG_S)
        level = min(1.0, ae / FULL_EXPOSURE_LUX)
        gain = min(2.5, now / max(ae, 1e-6)) * level
        sigma = 1.5 + 10.0 * (1.0 - level) ** 2
        return gain, sigma
