"""Animal sprites for the simulated camera, cut from real camera-trap photos.

hw_sim/sprites/index.toml says which photo of the realdata folder and which box each sprite is
cut from (the photos are read at run time, never copied into the repository). The cut keeps the
animal and a little of its own surroundings, with soft alpha edges, so a real classifier sees a
real animal. Without the realdata folder (or when a file differs from the one the box was chosen
on) a drawn silhouette stands in, and `Sprite.source` says so: a classifier is not expected to
recognise those.
"""
from __future__ import annotations

import hashlib
import logging
import tomllib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .scenario import FIRMWARE_CLASSES

log = logging.getLogger(__name__)

INDEX = Path(__file__).resolve().parent / "sprites" / "index.toml"


class SpriteIndexError(ValueError):
    pass


@dataclass(frozen=True)
class SpriteSpec:
    id: str
    cls: str
    light: str  # day | night | any
    file: str
    box: tuple[int, int, int, int]
    facing: str  # left | right | none
    width_m: float
    sha1: str = ""


@dataclass(frozen=True)
class Sprite:
    """An animal cut-out: `rgb` (h, w, 3) uint8, `alpha` (h, w) float32 in 0..1."""

    id: str
    cls: str
    rgb: np.ndarray
    alpha: np.ndarray
    facing: str
    width_m: float
    source: str  # "realdata:<file>" or "drawn (<why>)"

    @property
    def from_photo(self) -> bool:
        return self.source.startswith("realdata:")


def load_index(path: Path = INDEX) -> list[SpriteSpec]:
    data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    out: list[SpriteSpec] = []
    seen: set[str] = set()
    for i, s in enumerate(data.get("sprite", [])):
        where = f"{path}: sprite[{i}]"
        try:
            spec = SpriteSpec(
                id=s["id"], cls=s["class"], light=s["light"], file=s["file"],
                box=tuple(int(v) for v in s["box"]), facing=s.get("facing", "none"),
                width_m=float(s["width_m"]), sha1=s.get("sha1", ""),
            )
        except KeyError as err:
            raise SpriteIndexError(f"{where}: missing key {err}") from None
        if spec.cls not in FIRMWARE_CLASSES or spec.cls == "blank":
            raise SpriteIndexError(f"{where}.class = {spec.cls!r}: not a firmware animal class")
        if spec.light not in ("day", "night", "any"):
            raise SpriteIndexError(f"{where}.light = {spec.light!r}: day, night or any")
        if spec.facing not in ("left", "right", "none"):
            raise SpriteIndexError(f"{where}.facing = {spec.facing!r}: left, right or none")
        if len(spec.box) != 4 or min(spec.box[2:]) < 8:
            raise SpriteIndexError(f"{where}.box = {list(spec.box)}: [x, y, w, h] with w, h >= 8")
        if spec.id in seen:
            raise SpriteIndexError(f"{where}.id = {spec.id!r}: duplicate id")
        seen.add(spec.id)
        out.append(spec)
    return out


def soft_alpha(h: int, w: int, feather: float = 0.16) -> np.ndarray:
    """A rounded-rectangle mask fading to 0 at the edges over `feather` of the smaller side."""
    f = max(2.0, feather * min(h, w))
    ys = np.minimum(np.arange(h) + 0.5, h - np.arange(h) - 0.5)[:, None]
    xs = np.minimum(np.arange(w) + 0.5, w - np.arange(w) - 0.5)[None, :]
    # distance inside the rounded rectangle: corners fade along a circle of radius f
    dy = np.clip(f - ys, 0, None)
    dx = np.clip(f - xs, 0, None)
    inside = f - np.sqrt(dx * dx + dy * dy)
    a = np.clip(inside / f, 0.0, 1.0)
    return (a * a * (3 - 2 * a)).astype(np.float32)  # smoothstep


def _stretch(rgb: np.ndarray) -> np.ndarray:
    """Contrast stretch (2nd..99th percentile): dim infrared photos look lit by the IR LEDs."""
    lo, hi = np.percentile(rgb, (2, 99.5))
    if hi - lo < 8:
        return rgb
    return np.clip((rgb.astype(np.float32) - lo) * (235.0 / (hi - lo)) + 10, 0, 255).astype(np.uint8)


def cut_sprite(spec: SpriteSpec, realdata: Path) -> Sprite:
    """Cut one sprite from its realdata photo; raises FileNotFoundError / ValueError."""
    import cv2

    path = Path(realdata) / "media" / spec.file
    blob = path.read_bytes()
    if spec.sha1 and hashlib.sha1(blob).hexdigest() != spec.sha1:
        raise ValueError(f"{path}: sha1 differs from the one the box was chosen on")
    img = cv2.imdecode(np.frombuffer(blob, np.uint8), cv2.IMREAD_COLOR)
    if img is None:
        raise ValueError(f"{path}: not a readable image")
    x, y, w, h = spec.box
    if x < 0 or y < 0 or x + w > img.shape[1] or y + h > img.shape[0]:
        raise ValueError(f"{path}: box {list(spec.box)} is outside the {img.shape[1]}x{img.shape[0]} image")
    crop = cv2.cvtColor(img[y:y + h, x:x + w], cv2.COLOR_BGR2RGB)
    # keep sprites small: scenes show them at most a few hundred pixels wide
    scale = min(1.0, 480.0 / max(w, h))
    if scale < 1.0:
        crop = cv2.resize(crop, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA)
    if spec.light != "day":
        crop = _stretch(crop)
    alpha = soft_alpha(crop.shape[0], crop.shape[1])
    return Sprite(spec.id, spec.cls, np.ascontiguousarray(crop), alpha, spec.facing, spec.width_m,
                  f"realdata:{spec.file}")


# Drawn stand-ins: (body length : height ratio, colour) per class; facing right.
_DRAWN = {
    "amur_leopard": (2.6, (205, 160, 90)), "tiger": (2.6, (220, 130, 50)), "lynx": (1.9, (170, 140, 110)),
    "leopard_cat": (2.2, (180, 150, 100)), "deer": (1.4, (150, 105, 70)), "wild_boar": (1.8, (70, 60, 50)),
    "bear": (1.6, (60, 45, 35)), "badger": (2.2, (120, 120, 120)), "canid": (2.0, (190, 100, 50)),
    "mustelid": (3.0, (110, 75, 45)), "hare": (1.5, (150, 130, 100)), "bird": (1.3, (90, 80, 70)),
    "other_animal": (1.8, (130, 110, 90)), "human": (0.35, (70, 80, 110)), "vehicle": (2.4, (100, 100, 110)),
}


def drawn_sprite(cls: str, why: str) -> Sprite:
    """A plain silhouette (body, head, legs) for when no photo is at hand."""
    import cv2

    ratio, colour = _DRAWN.get(cls, _DRAWN["other_animal"])
    h = 120
    w = max(24, int(h * ratio))
    rgb = np.zeros((h, w, 3), np.uint8)
    mask = np.zeros((h, w), np.uint8)
    for canvas, c in ((rgb, colour), (mask, 255)):
        if cls == "human":
            cv2.ellipse(canvas, (w // 2, int(h * 0.1)), (int(w * 0.22), int(h * 0.08)), 0, 0, 360, c, -1)
            cv2.rectangle(canvas, (int(w * 0.2), int(h * 0.18)), (int(w * 0.8), int(h * 0.58)), c, -1)
            cv2.rectangle(canvas, (int(w * 0.25), int(h * 0.58)), (int(w * 0.47), h - 1), c, -1)
            cv2.rectangle(canvas, (int(w * 0.53), int(h * 0.58)), (int(w * 0.75), h - 1), c, -1)
        else:
            cv2.ellipse(canvas, (int(w * 0.45), int(h * 0.45)), (int(w * 0.33), int(h * 0.22)), 0, 0, 360, c, -1)
            cv2.circle(canvas, (int(w * 0.84), int(h * 0.3)), int(h * 0.13), c, -1)
            for fx in (0.2, 0.3, 0.58, 0.68):
                cv2.line(canvas, (int(w * fx), int(h * 0.55)), (int(w * fx), h - 2), c, max(2, h // 20))
    shade = (np.linspace(1.15, 0.75, h)[:, None, None] * rgb).clip(0, 255).astype(np.uint8)
    alpha = cv2.GaussianBlur(mask, (5, 5), 0).astype(np.float32) / 255.0
    return Sprite(f"drawn_{cls}", cls, shade, alpha, "right" if cls != "human" else "none", 1.0,
                  f"drawn ({why})")


class SpriteLibrary:
    """Sprites by id or by (class, light), cut lazily and kept for the scene's life."""

    def __init__(self, realdata: Path | None, index: Path = INDEX):
        self.realdata = Path(realdata) if realdata else None
        self.specs = load_index(index)
        self._cut: dict[str, Sprite] = {}

    def candidates(self, cls: str, light: str) -> list[SpriteSpec]:
        same = [s for s in self.specs if s.cls == cls]
        fit = [s for s in same if s.light in (light, "any")]
        return fit or same

    def get(self, cls: str, light: str, pick: int, sprite_id: str = "") -> Sprite:
        """The sprite `sprite_id`, or candidate number `pick` (mod count) for class and light."""
        if sprite_id:
            specs = [s for s in self.specs if s.id == sprite_id]
            if not specs:
                raise KeyError(f"sprite {sprite_id!r} is not in {INDEX.name}")
            if specs[0].cls != cls:
                raise ValueError(f"sprite {sprite_id!r} shows a {specs[0].cls}, not a {cls}")
        else:
            specs = self.candidates(cls, light)
        if not specs:
            return self._drawn(cls, "no photo of this class in the sprite index")
        spec = specs[pick % len(specs)]
        if spec.id in self._cut:
            return self._cut[spec.id]
        if self.realdata is None or not (self.realdata / "media").is_dir():
            sprite = self._drawn(cls, "realdata folder absent")
        else:
            try:
                sprite = cut_sprite(spec, self.realdata)
            except (OSError, ValueError) as err:
                log.warning("sprite %s: %s; drawing a silhouette instead", spec.id, err)
                sprite = self._drawn(cls, str(err))
        self._cut[spec.id] = sprite
        return sprite

    def _drawn(self, cls: str, why: str) -> Sprite:
        key = f"drawn_{cls}"
        if key not in self._cut:
            self._cut[key] = drawn_sprite(cls, why)
        return self._cut[key]
