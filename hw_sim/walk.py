"""Where an animal is at time t: its path through the frame, its speed, its pause.

Positions are fractions of the frame (x across, y = the feet, downwards) plus a distance from
the camera; the width of the world the frame spans at distance d is 2·d·tan(hfov/2), which
turns metres walked into fractions of the frame and sets the sprite's size.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .scenario import Animal

WORLD_ASPECT = 16.0 / 9.0  # the camera's field of view (width / height); every stream sees it


def view_width_m(distance_m: float, hfov_deg: float) -> float:
    return 2.0 * distance_m * math.tan(math.radians(hfov_deg) / 2.0)


@dataclass(frozen=True)
class Pose:
    x: float  # feet, fraction of width
    y: float  # feet, fraction of height
    d: float  # metres from the camera
    heading: int  # -1 moving left, +1 right, 0 still/straight
    moving: bool


class Walk:
    def __init__(self, animal: Animal, hfov_deg: float):
        self.a = animal
        self.hfov = hfov_deg
        pts = np.array([[p[0], p[1], p[2] if len(p) == 3 else animal.distance_m] for p in animal.path], float)
        self.xs, self.ys, self.ds = pts[:, 0], pts[:, 1], pts[:, 2]
        seg = []
        for i in range(len(pts) - 1):
            d_mid = (self.ds[i] + self.ds[i + 1]) / 2
            wm = view_width_m(d_mid, hfov_deg)
            dx = (self.xs[i + 1] - self.xs[i]) * wm
            dy = (self.ys[i + 1] - self.ys[i]) * wm / WORLD_ASPECT
            dd = self.ds[i + 1] - self.ds[i]
            seg.append(math.sqrt(dx * dx + dy * dy + dd * dd))
        self.cum = np.concatenate([[0.0], np.cumsum(seg)])
        self.length = float(self.cum[-1])
        self.s_pause = animal.pause_at * self.length
        self.t0 = animal.at
        self.walk_s = self.length / animal.speed_mps
        self.t1 = self.t0 + self.walk_s + animal.pause_s

    def active(self, t: float) -> bool:
        return self.t0 <= t <= self.t1

    def s_at(self, t: float) -> tuple[float, bool]:
        """Metres walked at t, and whether it is moving."""
        tau = t - self.t0
        v = self.a.speed_mps
        t_pause = self.s_pause / v
        if tau < t_pause:
            return max(0.0, tau * v), tau >= 0
        if tau < t_pause + self.a.pause_s:
            return self.s_pause, False
        return min(self.length, (tau - self.a.pause_s) * v), tau <= self.t1 - self.t0

    def pose(self, t: float) -> Pose:
        s, moving = self.s_at(t)
        x = float(np.interp(s, self.cum, self.xs))
        y = float(np.interp(s, self.cum, self.ys))
        d = float(np.interp(s, self.cum, self.ds))
        i = int(np.clip(np.searchsorted(self.cum, s, side="right") - 1, 0, len(self.xs) - 2))
        dx = self.xs[i + 1] - self.xs[i]
        heading = 0 if abs(dx) < 1e-6 else (1 if dx > 0 else -1)
        return Pose(x, y, d, heading, moving)
