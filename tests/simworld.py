"""A small deterministic world for recorder tests: a textured background and, optionally, a
dark block crossing the frame. It has the same interface as hw_sim.scene.Scene."""
from __future__ import annotations

import numpy as np


class BlockWorld:
    def __init__(self, enter: float | None = 8.0, speed: float = 0.08, pir=((10.0, 14.0),), lux: float = 500.0):
        self.enter, self.speed, self._pir, self._lux = enter, speed, pir, lux
        self._bg: dict[tuple[int, int], np.ndarray] = {}

    def _background(self, size):
        if size not in self._bg:
            w, h = size
            rng = np.random.default_rng(7)
            base = rng.integers(90, 150, size=(h // 8 + 1, w // 8 + 1, 3), dtype=np.uint8)
            self._bg[size] = np.repeat(np.repeat(base, 8, 0), 8, 1)[:h, :w].copy()
        return self._bg[size]

    def block_x(self, t: float) -> float | None:
        """Left edge of the block as a share of the width, or None when out of frame."""
        if self.enter is None or t < self.enter:
            return None
        x = -0.1 + self.speed * (t - self.enter)
        return x if x < 1.0 else None

    def render(self, t, size, ir, leds_on):
        frame = self._background(size).copy()
        x = self.block_x(t)
        if x is not None:
            w, h = size
            x0, x1 = max(0, int(x * w)), max(0, int((x + 0.1) * w))
            frame[int(0.45 * h):int(0.65 * h), x0:x1] = 20
        return frame

    def lux(self, t):
        return self._lux

    def pir_windows(self):
        return [(a, b, "test") for a, b in self._pir]

    def truth(self, t0, t1):
        return "blank"
