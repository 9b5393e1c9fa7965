"""The world the simulated camera sees, rendered at any simulated time.

`Scene.render(t, size, ir, leds_on)` draws one RGB frame: a forest background (made once per
scenario seed, resized once per size), vegetation that sways in wind gusts, animals cut from
real camera-trap photos walking their paths, falling snow, then the light — sun by local time,
cloud jumps that the auto exposure catches up with, infrared greyscale at night lit only by the
IR LEDs — and sensor noise. Replay items show real footage full frame instead. The same t always
gives the same frame. `lux`, `pir_windows` and `truth` give what the light sensor, the PIR pin
and the report's `truth` column need.

Speed matters (a simulated day with ~30 events must run in seconds, encoding included): every
per-size layer is made once and cached, sprites are resized once per size step, per-frame work is
a copy, a few small-ROI blends, one gain and one noise add.
"""
from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .light import Light
from .replay import ReplaySource
from .scenario import Scenario
from .sprites import Sprite, SpriteLibrary
from .walk import WORLD_ASPECT, Walk, view_width_m

MASTER = (960, 540)  # the background is drawn once at this size, then resized per stream size
IR_LED_LEVEL = 1.0
NOISE_LEVELS = (2.0, 4.0, 8.0, 14.0)
NOISE_PAD = 32
SPRITE_CACHE = 512
STRIDE_M = 0.8


def _hash(*vals: int) -> int:
    """A small deterministic integer hash (splitmix64 finaliser)."""
    h = 0x9E3779B97F4A7C15
    for v in vals:
        h = (h ^ (v & 0xFFFFFFFFFFFFFFFF)) * 0xBF58476D1CE4E5B9 & 0xFFFFFFFFFFFFFFFF
        h ^= h >> 31
    return h


@dataclass
class _Patch:
    """A vegetation clump: anchored at its foot, sways by shearing (top moves, foot stays)."""

    rgba: np.ndarray  # master-size RGBA
    x: float  # foot centre, fraction of width
    y: float  # foot, fraction of height
    freq: float
    phase: float
    stiffness: float


@dataclass
class _SizedPatch:
    rgb: np.ndarray
    grey: np.ndarray
    alpha: np.ndarray
    x0: int
    y0: int
    pad: int


@dataclass
class _Layers:
    """Everything made once per output size."""

    bg_rgb: np.ndarray
    bg_grey: np.ndarray
    still_rgb: np.ndarray  # background + vegetation at rest
    still_grey: np.ndarray
    patches: list[_SizedPatch]
    led: np.ndarray  # IR LED falloff, float32 0..1
    led_maps: dict = field(default_factory=dict)
    noise: dict = field(default_factory=dict)


@dataclass(frozen=True)
class _Flakes:
    x: np.ndarray
    y: np.ndarray
    v: np.ndarray
    drift: np.ndarray
    phase: np.ndarray
    size: np.ndarray


class Scene:
    def __init__(self, scenario: Scenario, realdata: Path | None):
        self.sc = scenario
        self.light = Light(scenario)
        self.sprites = SpriteLibrary(realdata)
        site = scenario.site
        self.walks: list[tuple[Walk, Sprite]] = []
        for i, a in enumerate(scenario.animals):
            light = "night" if self.light.is_night(a.at) else "day"
            sprite = self.sprites.get(a.species, light, _hash(scenario.seed, i), a.sprite)
            if a.length_m:
                sprite = Sprite(sprite.id + f"@{a.length_m}", sprite.cls, sprite.rgb, sprite.alpha,
                                sprite.facing, a.length_m, sprite.source)
            self.walks.append((Walk(a, site.hfov_deg), sprite))
        self.replays = [ReplaySource(r, realdata) for r in scenario.replays]
        rng = np.random.default_rng(scenario.seed)
        self._master = _background(rng, site.trunks, site.snow_ground)
        self._plants = [_plant(rng, i, site.vegetation) for i in range(site.vegetation)]
        self._flakes = [_flakes(np.random.default_rng([scenario.seed, 7, i]), s.intensity)
                        for i, s in enumerate(scenario.snow)]
        self._layers: dict[tuple[int, int], _Layers] = {}
        self._sprite_cache: OrderedDict[tuple, tuple[np.ndarray, np.ndarray, np.ndarray]] = OrderedDict()

    # --- what the sensors and the report need -----------------------------------------------
    def lux(self, t: float) -> float:
        return self.light.lux(t)

    def sprite_sources(self) -> dict[str, str]:
        """Per animal item (species#index): where its picture comes from (realdata file or drawn)."""
        return {f"{w.a.species}#{i}": s.source for i, (w, s) in enumerate(self.walks)}

    def objects(self, t: float, size: tuple[int, int] = (1, 1)) -> list[tuple[str, tuple[float, float, float, float]]]:
        """Animals at t: (class, (x0, y0, x1, y1)) in fractions of the frame, clipped to it."""
        out = []
        for walk, sprite in self.walks:
            if walk.active(t):
                x0, y0, x1, y1 = self._box(walk, sprite, t)
                c = (max(0.0, x0), max(0.0, y0), min(1.0, x1), min(1.0, y1))
                if c[2] > c[0] and c[3] > c[1]:
                    out.append((walk.a.species, c))
        return out

    def truth(self, t0: float, t1: float) -> str:
        """The firmware class most visible in [t0, t1] (area × time), or 'blank'."""
        score: dict[str, float] = {}
        t1 = max(t1, t0)
        for rep in self.replays:
            overlap = min(t1, rep.end) - max(t0, rep.at)
            if overlap > 0 and rep.truth != "blank":
                score[rep.truth] = score.get(rep.truth, 0.0) + overlap
        n = max(2, min(400, int((t1 - t0) / 0.25) + 1))
        step = (t1 - t0) / (n - 1)
        for walk, sprite in self.walks:
            if walk.t1 < t0 or walk.t0 > t1:
                continue
            area = 0.0
            for k in range(n):
                t = t0 + k * step
                if walk.active(t) and not any(r.active(t) for r in self.replays):
                    x0, y0, x1, y1 = self._box(walk, sprite, t)
                    area += max(0.0, min(1.0, x1) - max(0.0, x0)) * max(0.0, min(1.0, y1) - max(0.0, y0))
            if area > 0:
                score[walk.a.species] = score.get(walk.a.species, 0.0) + area * max(step, 1e-3)
        return max(score, key=score.get) if score else "blank"

    def pir_windows(self) -> list[tuple[float, float, str]]:
        """When the PIR output is high: (t_on, t_off, cause), sorted, overlaps merged.

        A warm body fires it while it moves inside the cone (the middle of the frame, within
        pir_range_m); the output stays high pir_hold_s after the last motion. `[[pir_false]]`
        items and gusts with `pir = true` fire it with no animal; replays of an animal fire it
        while they play.
        """
        site = self.sc.site
        raw: list[tuple[float, float, str]] = []
        dt = 0.05
        for walk, _ in self.walks:
            on = None
            last = None
            for t in np.arange(walk.t0, walk.t1 + dt, dt):
                p = walk.pose(float(t))
                seen = p.moving and site.pir_cone[0] <= p.x <= site.pir_cone[1] and p.d <= site.pir_range_m
                if seen:
                    on = float(t) if on is None else on
                    last = float(t)
                elif on is not None and last is not None and t - last > site.pir_hold_s:
                    raw.append((on, last + site.pir_hold_s, f"animal:{walk.a.species}"))
                    on = None
            if on is not None and last is not None:
                raw.append((on, last + site.pir_hold_s, f"animal:{walk.a.species}"))
        for f in self.sc.pir_false:
            raw.append((f.at, f.at + f.duration_s, f.cause))
        for w in self.sc.winds:
            if w.pir:
                raw.append((w.at + 0.5, w.at + min(w.duration_s, 4.0), "warm_gust"))
        for rep in self.replays:
            if rep.item.pir if rep.item.pir is not None else rep.truth != "blank":
                raw.append((rep.at, rep.end, f"replay:{rep.truth}"))
        raw = [(max(0.0, a), min(self.sc.duration_s, b), c) for a, b, c in raw if a < self.sc.duration_s]
        raw.sort()
        merged: list[tuple[float, float, str]] = []
        for a, b, c in raw:
            if merged and a <= merged[-1][1]:
                pa, pb, pc = merged[-1]
                causes = pc.split("+")
                merged[-1] = (pa, max(pb, b), pc if c in causes else pc + "+" + c)
            else:
                merged.append((a, b, c))
        return merged

    # --- rendering --------------------------------------------------------------------------
    def render(self, t: float, size: tuple[int, int], ir: bool, leds_on: bool) -> np.ndarray:
        import cv2

        size = (int(size[0]), int(size[1]))
        for rep in self.replays:
            if rep.active(t):
                img = rep.frame(t, size)
                if ir:
                    return cv2.cvtColor(cv2.cvtColor(img, cv2.COLOR_RGB2GRAY), cv2.COLOR_GRAY2RGB)
                return img.copy()
        w, h = size
        L = self._layers_for(size)
        grey = ir
        amp = self._sway(t) * w
        if amp < 0.25:
            canvas = (L.still_grey if grey else L.still_rgb).copy()
        else:
            canvas = (L.bg_grey if grey else L.bg_rgb).copy()
            for plant, sp in zip(self._plants, L.patches, strict=True):
                wt = 2 * math.pi * plant.freq * t
                off = amp / plant.stiffness * (0.65 * math.sin(wt + plant.phase)
                                               + 0.35 * math.sin(2.3 * wt + 1.7 * plant.phase))
                _blend_patch(canvas, sp, off, grey)
        for walk, sprite in self.walks:
            if walk.active(t):
                self._draw_animal(canvas, walk, sprite, t, size, grey)
        gain, sigma = self.light.exposure(t)
        led = IR_LED_LEVEL if (ir and leds_on) else 0.0
        if led > 0:
            q = min(255, int(round(gain * 16)))
            m = L.led_maps.get(q)
            if m is None:
                m = np.clip((q / 16.0 + led * L.led) * 64.0, 0, 255).astype(np.uint8)
                L.led_maps[q] = m
            canvas = cv2.multiply(canvas, m, scale=1 / 64.0)
            sigma = 2.0 + 3.0 * (1.0 - min(1.0, gain))
        elif abs(gain - 1.0) > 0.004:
            canvas = cv2.convertScaleAbs(canvas, alpha=gain)
        for item, flakes in zip(self.sc.snow, self._flakes, strict=True):
            if item.at <= t < item.at + item.duration_s:
                _draw_snow(canvas, flakes, t, min(1.0, gain + 0.8 * led))
        self._add_noise(canvas, L, sigma, t)
        if grey:
            return cv2.cvtColor(canvas, cv2.COLOR_GRAY2RGB)
        return canvas

    def _sway(self, t: float) -> float:
        """Sway amplitude (fraction of frame width) from the wind gusts at t."""
        amp = 0.0
        for g in self.sc.winds:
            if g.at <= t <= g.at + g.duration_s:
                ramp = min(1.5, g.duration_s / 3)
                env = min(1.0, (t - g.at) / ramp, (g.at + g.duration_s - t) / ramp)
                amp = max(amp, 0.02 * g.strength * env)
        return amp

    def _box(self, walk: Walk, sprite: Sprite, t: float) -> tuple[float, float, float, float]:
        p = walk.pose(t)
        wf = sprite.width_m / view_width_m(p.d, walk.hfov)
        hf = wf * sprite.rgb.shape[0] / sprite.rgb.shape[1] * WORLD_ASPECT
        return p.x - wf / 2, p.y - hf, p.x + wf / 2, p.y

    def _draw_animal(self, canvas: np.ndarray, walk: Walk, sprite: Sprite, t: float,
                     size: tuple[int, int], grey: bool) -> None:
        import cv2

        w, h = size
        p = walk.pose(t)
        wf = sprite.width_m / view_width_m(p.d, walk.hfov)
        sw = max(2, int(round(wf * w / 2)) * 2)
        sh = max(2, int(round(sw * (h / w) * WORLD_ASPECT * sprite.rgb.shape[0] / sprite.rgb.shape[1])))
        flip = (sprite.facing == "left" and p.heading > 0) or (sprite.facing == "right" and p.heading < 0)
        img, a, inv = self._scaled(sprite, sw, sh, flip, grey)
        bob = 0
        if p.moving:
            s, _ = walk.s_at(t)
            bob = int(round(0.02 * sh * abs(math.sin(math.pi * s / STRIDE_M))))
        x0 = int(round(p.x * w - sw / 2))
        y0 = int(round(p.y * h - sh)) - bob
        cx0, cy0, cx1, cy1 = max(0, x0), max(0, y0), min(w, x0 + sw), min(h, y0 + sh)
        if cx1 <= cx0 or cy1 <= cy0:
            return
        sl = (slice(cy0 - y0, cy1 - y0), slice(cx0 - x0, cx1 - x0))
        roi = canvas[cy0:cy1, cx0:cx1]
        canvas[cy0:cy1, cx0:cx1] = cv2.blendLinear(img[sl], roi, a[sl], inv[sl])

    def _scaled(self, sprite: Sprite, sw: int, sh: int, flip: bool, grey: bool):
        import cv2

        key = (sprite.id, sw, sh, flip, grey)
        hit = self._sprite_cache.get(key)
        if hit is not None:
            self._sprite_cache.move_to_end(key)
            return hit
        interp = cv2.INTER_AREA if sw < sprite.rgb.shape[1] else cv2.INTER_LINEAR
        img = cv2.resize(sprite.rgb, (sw, sh), interpolation=interp)
        a = cv2.resize(sprite.alpha, (sw, sh), interpolation=cv2.INTER_LINEAR)
        if flip:
            img, a = img[:, ::-1], a[:, ::-1]
        if grey:
            img = cv2.cvtColor(np.ascontiguousarray(img), cv2.COLOR_RGB2GRAY)
        hit = (np.ascontiguousarray(img), np.ascontiguousarray(a), np.ascontiguousarray(1.0 - a))
        self._sprite_cache[key] = hit
        if len(self._sprite_cache) > SPRITE_CACHE:
            self._sprite_cache.popitem(last=False)
        return hit

    def _add_noise(self, canvas: np.ndarray, L: _Layers, sigma: float, t: float) -> None:
        import cv2

        level = min(NOISE_LEVELS, key=lambda s: abs(s - sigma))
        key = (level, canvas.ndim)
        tiles = L.noise.get(key)
        if tiles is None:
            rng = np.random.default_rng([self.sc.seed, int(level * 10), canvas.ndim])
            shape = (canvas.shape[0] + NOISE_PAD, canvas.shape[1] + NOISE_PAD) + canvas.shape[2:]
            n = rng.normal(0.0, level, shape).astype(np.float32)
            tiles = (np.clip(n, 0, 255).astype(np.uint8), np.clip(-n, 0, 255).astype(np.uint8))
            L.noise[key] = tiles
        hsh = _hash(self.sc.seed, int(round(t * 1000)))
        dy, dx = hsh % NOISE_PAD, (hsh >> 8) % NOISE_PAD
        h, w = canvas.shape[:2]
        cv2.add(canvas, tiles[0][dy:dy + h, dx:dx + w], dst=canvas)
        cv2.subtract(canvas, tiles[1][dy:dy + h, dx:dx + w], dst=canvas)

    def _layers_for(self, size: tuple[int, int]) -> _Layers:
        import cv2

        L = self._layers.get(size)
        if L is not None:
            return L
        w, h = size
        bg = cv2.resize(self._master, size, interpolation=cv2.INTER_AREA)
        bg_grey = cv2.cvtColor(bg, cv2.COLOR_RGB2GRAY)
        patches = []
        sx, sy = w / MASTER[0], h / MASTER[1]
        for plant in self._plants:
            ph, pw = plant.rgba.shape[:2]
            nw, nh = max(4, int(pw * sx)), max(4, int(ph * sy))
            rgba = cv2.resize(plant.rgba, (nw, nh), interpolation=cv2.INTER_AREA)
            pad = int(math.ceil(0.03 * w)) + 2
            rgba = cv2.copyMakeBorder(rgba, 0, 0, pad, pad, cv2.BORDER_CONSTANT, value=(0, 0, 0, 0))
            rgb = np.ascontiguousarray(rgba[:, :, :3])
            patches.append(_SizedPatch(
                rgb=rgb, grey=cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY),
                alpha=rgba[:, :, 3].astype(np.float32) / 255.0,
                x0=int(round(plant.x * w - rgba.shape[1] / 2)), y0=int(round(plant.y * h - nh)), pad=pad))
        still_rgb, still_grey = bg.copy(), bg_grey.copy()
        for sp in patches:
            _blend_patch(still_rgb, sp, 0.0, False)
            _blend_patch(still_grey, sp, 0.0, True)
        # IR LED falloff: brightest a little below the centre (the ground a few metres out)
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        r2 = ((xx - w * 0.5) / (w * 0.55)) ** 2 + ((yy - h * 0.62) / (h * 0.6)) ** 2
        led = (0.3 + 0.7 * np.exp(-r2)).astype(np.float32)
        L = _Layers(bg, bg_grey, still_rgb, still_grey, patches, led)
        self._layers[size] = L
        return L


def _blend_patch(canvas: np.ndarray, sp: _SizedPatch, offset_px: float, grey: bool) -> None:
    import cv2

    img = sp.grey if grey else sp.rgb
    a = sp.alpha
    ph, pw = a.shape
    if abs(offset_px) >= 0.05:
        # shear about the foot: the top moves by offset_px, the foot stays
        k = offset_px / ph
        m = np.float32([[1, -k, k * ph], [0, 1, 0]])
        img = cv2.warpAffine(img, m, (pw, ph), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
        a = cv2.warpAffine(a, m, (pw, ph), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
    H, W = canvas.shape[:2]
    x0, y0 = sp.x0, sp.y0
    cx0, cy0, cx1, cy1 = max(0, x0), max(0, y0), min(W, x0 + pw), min(H, y0 + ph)
    if cx1 <= cx0 or cy1 <= cy0:
        return
    sl = (slice(cy0 - y0, cy1 - y0), slice(cx0 - x0, cx1 - x0))
    aa = np.ascontiguousarray(a[sl])
    canvas[cy0:cy1, cx0:cx1] = cv2.blendLinear(np.ascontiguousarray(img[sl]), canvas[cy0:cy1, cx0:cx1],
                                               aa, 1.0 - aa)


def _draw_snow(canvas: np.ndarray, f: _Flakes, t: float, light: float) -> None:
    h, w = canvas.shape[:2]
    y = np.mod(f.y + f.v * t, 1.1) - 0.05
    x = np.mod(f.x + f.drift * np.sin(1.3 * t + f.phase), 1.0)
    xi = (x * w).astype(np.intp)
    yi = (y * h).astype(np.intp)
    val = int(min(255, 70 + 185 * light))
    scale = max(1, w // 320)
    for s in (1, 2, 3):
        sel = f.size == s
        xs, ys = xi[sel], yi[sel]
        n = s * scale
        for dy in range(n):
            for dx in range(n):
                yy, xx = ys + dy, xs + dx
                ok = (yy >= 0) & (yy < h) & (xx < w)
                canvas[yy[ok], xx[ok]] = val


def _flakes(rng: np.random.Generator, intensity: float) -> _Flakes:
    n = max(10, int(1500 * intensity))
    size = rng.choice([1, 2, 3], size=n, p=[0.7, 0.25, 0.05])
    v = rng.uniform(0.04, 0.12, n) * size  # near (big) flakes cross the frame faster
    return _Flakes(rng.random(n), rng.random(n), v, rng.uniform(0.002, 0.02, n), rng.uniform(0, 6.3, n), size)


def _fbm(rng: np.random.Generator, h: int, w: int, cells: int, octaves: int) -> np.ndarray:
    import cv2

    out = np.zeros((h, w), np.float32)
    amp, total = 1.0, 0.0
    for k in range(octaves):
        gw = cells * 2 ** k
        gh = max(2, int(gw * h / w))
        out += amp * cv2.resize(rng.random((gh, gw)).astype(np.float32), (w, h), interpolation=cv2.INTER_CUBIC)
        total += amp
        amp *= 0.5
    out /= total
    return np.clip((out - out.min()) / max(1e-6, out.max() - out.min()), 0, 1)


def _background(rng: np.random.Generator, trunks: int, snow: bool) -> np.ndarray:
    """A forest edge: canopy with light through it, trunks, a floor with litter and a trail."""
    import cv2

    w, h = MASTER
    horizon = int(h * rng.uniform(0.38, 0.46))
    img = np.zeros((h, w, 3), np.float32)
    # far forest: dense thin trunks and undergrowth (noise stretched vertically), sky through
    # the canopy only near the top
    streaks = cv2.resize(rng.random((6, 160)).astype(np.float32), (w, horizon), interpolation=cv2.INTER_CUBIC)
    n = _fbm(rng, horizon, w, 6, 5)
    sky = np.clip((n - 0.55) * 3, 0, 1) * np.linspace(1.0, 0.0, horizon, dtype=np.float32)[:, None] ** 1.5
    far = np.array([52, 66, 48], np.float32) * (0.55 + 0.5 * streaks + 0.3 * _fbm(rng, horizon, w, 24, 3))[..., None]
    img[:horizon] = far * (1 - sky[..., None]) + np.array([196, 204, 206], np.float32) * sky[..., None]
    # floor
    fh = h - horizon
    n1 = _fbm(rng, fh, w, 8, 5)[..., None]
    n2 = _fbm(rng, fh, w, 40, 3)[..., None]
    if snow:
        floor = np.array([215, 220, 228], np.float32) * (0.8 + 0.25 * n1) - 40 * (n2 > 0.8)
    else:
        dirt = np.array([110, 88, 62], np.float32)
        moss = np.array([78, 100, 52], np.float32)
        floor = (dirt * n1 + moss * (1 - n1)) * (0.75 + 0.5 * n2)
    depth = np.linspace(0.75, 1.1, fh, dtype=np.float32)[:, None, None]
    img[horizon:] = floor * depth
    # a soft, uneven edge where the floor meets the far forest
    band = int(h * 0.06)
    edge = horizon + (band * (_fbm(rng, 1, w, 12, 3)[0] - 0.5)).astype(int)
    rows = np.arange(h)[:, None]
    mix = np.clip((rows - (edge[None, :] - band / 2)) / band, 0, 1)[..., None]
    far_ext = np.concatenate([img[:horizon], np.repeat(img[horizon - 1:horizon], fh, axis=0)], axis=0)
    floor_ext = np.concatenate([np.repeat(img[horizon:horizon + 1], horizon, axis=0), img[horizon:]], axis=0)
    img = far_ext * (1 - mix) + floor_ext * mix
    # a trail across the floor, lighter and smoother
    yy = np.arange(fh)[:, None]
    centre = w * (0.5 + 0.25 * np.sin(yy / fh * 2.0 + rng.uniform(0, 6)))
    half = w * (0.03 + 0.12 * yy / fh)
    xx = np.arange(w)[None, :]
    trail = np.clip(1.0 - np.abs(xx - centre) / half, 0, 1) ** 0.5
    img[horizon:] = img[horizon:] * (1 - 0.35 * trail[..., None]) + 0.35 * trail[..., None] * (
        np.array([230, 232, 238] if snow else [150, 130, 100], np.float32))
    # leaf litter specks
    k = int(w * h * 0.004)
    ys = rng.integers(horizon, h, k)
    xs = rng.integers(0, w, k)
    img[ys, xs] *= rng.uniform(0.5, 1.4, (k, 1)).astype(np.float32)
    # a rock in the middle distance (the sun-warmed rock of the PIR false triggers)
    rx, ry = int(w * rng.uniform(0.4, 0.6)), int(horizon + fh * rng.uniform(0.3, 0.5))
    cv2.ellipse(img, (rx, ry), (int(w * 0.05), int(h * 0.035)), 0, 180, 360, (120, 118, 112), -1)
    cv2.ellipse(img, (rx, ry), (int(w * 0.05), int(h * 0.015)), 0, 0, 180, (70, 68, 64), -1)
    # trunks, nearer ones wider and rooted lower
    for _ in range(trunks):
        near = rng.uniform(0, 1)
        tw = int(w * (0.012 + 0.05 * near ** 2))
        x = int(rng.uniform(0, w))
        base = int(horizon + (h - horizon) * 0.35 * near)
        bark = _fbm(rng, base, tw + 1, 2, 3)
        col = np.array([70, 60, 52], np.float32) * (0.7 + 0.6 * near)
        across = np.sin(np.linspace(0.15, math.pi - 0.15, tw + 1)) ** 0.6
        tex = col * (0.55 + 0.6 * bark[..., None]) * across[None, :, None]
        x0, x1 = max(0, x - tw // 2), min(w, x - tw // 2 + tw + 1)
        img[:base, x0:x1] = tex[:, x0 - (x - tw // 2):x1 - (x - tw // 2)]
    img = cv2.GaussianBlur(img, (3, 3), 0)
    return np.clip(img, 0, 255).astype(np.uint8)


def _plant(rng: np.random.Generator, i: int, count: int) -> _Patch:
    """A grass or fern clump drawn as blades on an RGBA patch (master size)."""
    import cv2

    w, h = MASTER
    ph = int(h * rng.uniform(0.12, 0.32))
    pw = int(w * rng.uniform(0.07, 0.18))
    rgba = np.zeros((ph, pw, 4), np.uint8)
    for _ in range(int(rng.integers(18, 40))):
        x_base = int(rng.uniform(0.2, 0.8) * pw)
        top_x = int(np.clip(x_base + rng.normal(0, pw * 0.25), 0, pw - 1))
        top_y = int(rng.uniform(0.0, 0.5) * ph)
        mid = ((x_base + top_x) // 2 + int(rng.normal(0, pw * 0.05)), (ph + top_y) // 2)
        g = rng.uniform(0.6, 1.3)
        colour = (int(60 * g), int(110 * g), int(40 * g), 255)
        th = int(rng.integers(1, 4))
        cv2.line(rgba, (x_base, ph - 1), mid, colour, th + 1)
        cv2.line(rgba, mid, (top_x, top_y), colour, th)
    rgba[:, :, 3] = cv2.GaussianBlur(rgba[:, :, 3], (3, 3), 0)
    # spread the clumps: some in the foreground corners (closest, biggest sway), some beside the trail
    x = (i + rng.uniform(0.1, 0.9)) / max(1, count)
    y = rng.uniform(0.62, 1.02)
    return _Patch(rgba, x, y, freq=rng.uniform(0.4, 1.2), phase=rng.uniform(0, 2 * math.pi),
                  stiffness=rng.uniform(0.7, 1.5))
