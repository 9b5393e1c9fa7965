"""Motion check on lores frames: the false-trigger filter.

`MotionCheck.check(luma)` looks at one lores luma frame and says what moved:

1. scale the luma to `frame_height` rows (INTER_AREA; never upscaled),
2. contrast normalisation: stretch the 4th..96th percentile to 0..255 (the gain is capped so a
   dark, flat night frame does not turn sensor noise into motion); the stretch is part of the
   background model, measured on still pixels and following them at `alpha`,
3. Gaussian blur (`blur`) against noise and snow,
4. absolute difference to a running-average float background (`alpha` where the frame is
   still, a quarter of it where something moves, so slow animals are not soaked up), threshold,
5. ignore masks (polygons in 0..1 frame coordinates, rasterised once per frame size),
6. a whole-frame change (share of changed pixels > `light_jump`) is a light jump: reported,
   no boxes, background replaced by the new frame,
7. an opening removes isolated specks, dilation (`dilate`) joins the parts of one animal; the
   changed regions (external contours) whose pixel area is between `min_area` and `max_area`
   of the frame are the moving objects, boxed in 0..1 coordinates.

`EventMotion` accumulates one event's results and decides whether a real object moved: it
links boxes from frame to frame into tracks (nearest centre) and confirms the event when one
track was seen in at least `min_frames` (and >= 3) frames, in at least half the frames it spans,
and travelled steadily (fitted line, t test, no single hop) at least `min_travel` and at least
0.4 of its own size. Vegetation sway (its changed region covers its swing, so it never leaves
it), snow speckle (small, removed by the opening, or chained only sparsely and erratically),
light jumps and PIR triggers with no pixel motion do not confirm; an animal crossing,
approaching (its box grows steadily), or already in the frame when the background was taken (it
leaves a static "ghost", but its own track moves) does.

Distances are in normalised frame coordinates (the frame is the unit square), and travel is a
share of its diagonal (sqrt 2).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from .config import MotionConfig

Box = tuple[float, float, float, float]

# Contrast stretch: percentiles mapped to 0 and 255, and the narrowest grey range that is
# stretched to full scale (caps the gain at 4).
_STRETCH_LOW = 0.04
_STRETCH_HIGH = 0.96
_STRETCH_MIN_RANGE = 64
_IN_MOTION = 0.25  # background weight where something moves, relative to alpha
_MIN_SIDE = 8  # pixels: smallest luma frame accepted

# Tracking in EventMotion.
_DIAGONAL = math.sqrt(2.0)
_GATE = 0.1  # how far (normalised) a track may jump between detections, plus half its box size
_MAX_MISSES = 5  # usable frames a track may go unseen before it ends
_BOXES_TRACKED = 8  # largest boxes per frame that are linked into tracks
_MAX_LIVE_TRACKS = 32
_DENSITY = 0.5  # share of the frames it spans in which a track must be seen
_MIN_TRACK = 3  # detections a track needs before its travel can be judged
_OWN_SIZE = 0.4  # travel needed, in units of the object's own box diagonal
# Two-sided 1 % critical values of Student's t for 1..10 degrees of freedom, then a flat 3.0:
# the fitted speed must stand out this far from the scatter around the fitted line.
_T_CRIT = (63.66, 9.92, 5.84, 4.60, 4.03, 3.71, 3.50, 3.36, 3.25, 3.17)
_T_CRIT_MANY = 3.0
_MAX_JUMP = 0.5  # largest step beyond the fitted speed, as a share of the fitted travel


@dataclass(frozen=True)
class MotionResult:
    """What one lores frame showed."""

    boxes: list[Box]  # moving objects (x, y, w, h) in 0..1 of the frame, largest first
    changed: float  # share of (unmasked) pixels that changed
    light_jump: bool  # sudden whole-frame change: rejected, background reset
    warming_up: bool  # no background yet (first frame after a reset)

    @property
    def largest_area(self) -> float:
        """Area of the largest box as a share of the frame; 0 when nothing moved."""
        if not self.boxes:
            return 0.0
        _, _, w, h = self.boxes[0]
        return w * h


class MotionCheck:
    """Running-average background subtraction on lores luma frames (see module docstring)."""

    def __init__(self, cfg: MotionConfig):
        self.cfg = cfg
        self._background: np.ndarray | None = None  # float32 (h, w)
        self._size: tuple[int, int] | None = None  # processed (w, h)
        self._keep: np.ndarray | None = None  # uint8 255 where motion counts; None = no masks
        self._keep_pixels = 0
        self._kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (3, 3))
        self._ramp = np.arange(256, dtype=np.float32)
        self._stretch = np.zeros(2)  # background's contrast stretch: grey levels (lo, hi)
        self._still: np.ndarray | None = None  # 255 where the last frame showed no motion
        self.last_reset: str | None = None  # why the background was last dropped or replaced
        self.resets = 0

    def reset(self, reason: str) -> None:
        """Drop the background (the firmware switched the IR LEDs or the IR-cut filter, or the
        frames are stale); the next frame becomes the new background."""
        self._background = None
        self.last_reset = reason
        self.resets += 1

    def check(self, luma: np.ndarray) -> MotionResult:
        """Compare one luma frame, uint8 (h, w), with the background and update it."""
        small = self._scale(luma)
        h, w = small.shape
        if self._size != (w, h):
            self._use_size(w, h)
        if self._background is None:
            lo, hi = self._percentiles(small, None)
            self._new_background(small, lo, hi)
            return MotionResult(boxes=[], changed=0.0, light_jump=False, warming_up=True)

        cfg = self.cfg
        lo, hi = self._percentiles(small, self._still)
        # The stretch belongs to the background model: measured on the pixels that were still in
        # the last frame, it follows them as slowly as the background does, so a bright animal
        # does not re-map the whole frame, and a sudden light change shows up as change instead
        # of being hidden.
        self._stretch += cfg.alpha * (np.array((lo, hi)) - self._stretch)
        frame = self._normalise(small, *self._stretch)
        diff = cv2.absdiff(frame, cv2.convertScaleAbs(self._background))
        # THRESH_BINARY keeps values > thresh; a difference of `threshold` itself counts.
        _, moving = cv2.threshold(diff, cfg.threshold - 1, 255, cv2.THRESH_BINARY)
        if self._keep is not None:
            cv2.bitwise_and(moving, self._keep, dst=moving)
        changed = cv2.countNonZero(moving) / self._keep_pixels if self._keep_pixels else 0.0
        if changed > cfg.light_jump:
            self._new_background(small, *self._percentiles(small, None))
            self.last_reset = "light jump"
            return MotionResult(boxes=[], changed=changed, light_jump=True, warming_up=False)

        # Opening removes isolated specks (snowflakes, noise) smaller than 3x3 processed pixels.
        moving = cv2.morphologyEx(moving, cv2.MORPH_OPEN, self._kernel)
        if cfg.dilate:
            moving = cv2.dilate(moving, self._kernel, iterations=cfg.dilate)
        self._update_background(frame, moving)
        return MotionResult(boxes=self._boxes(moving), changed=changed, light_jump=False,
                            warming_up=False)

    def _update_background(self, frame: np.ndarray, moving: np.ndarray) -> None:
        """Running average: weight alpha where the frame is still, a quarter of that where
        something moves, so a slow animal is not absorbed into the background (which would
        leave a ghost behind it and cut its track) while a lasting change still fades in."""
        alpha = self.cfg.alpha
        slow = alpha * _IN_MOTION
        cv2.accumulateWeighted(frame, self._background, slow)
        # (1 - slow)(1 - rest) = 1 - alpha: still pixels get alpha in all.
        rest = 1.0 - (1.0 - alpha) / (1.0 - slow)
        self._still = cv2.bitwise_not(moving)
        cv2.accumulateWeighted(frame, self._background, rest, mask=self._still)

    def _new_background(self, small: np.ndarray, lo: float, hi: float) -> None:
        """Take this frame, stretched by its own percentiles, as the whole background."""
        self._stretch = np.array((lo, hi))
        self._still = None
        self._background = self._normalise(small, lo, hi).astype(np.float32)

    def _scale(self, luma: np.ndarray) -> np.ndarray:
        """Check the luma frame and scale it down to frame_height rows."""
        if not isinstance(luma, np.ndarray) or luma.ndim != 2 or luma.dtype != np.uint8:
            got = (f"{luma.dtype} array of shape {luma.shape}" if isinstance(luma, np.ndarray)
                   else type(luma).__name__)
            raise ValueError(f"motion check needs a 2-D uint8 luma array (h, w); got {got}")
        h, w = luma.shape
        if h < _MIN_SIDE or w < _MIN_SIDE:
            raise ValueError(f"luma frame {w}x{h} is too small (at least {_MIN_SIDE}x{_MIN_SIDE})")
        rows = self.cfg.frame_height
        if h > rows:
            cols = max(_MIN_SIDE, round(w * rows / h))
            return cv2.resize(luma, (cols, rows), interpolation=cv2.INTER_AREA)
        return np.ascontiguousarray(luma)

    @staticmethod
    def _percentiles(small: np.ndarray, mask: np.ndarray | None) -> tuple[float, float]:
        """The grey levels at the 4th and 96th percentile (of the pixels under `mask`)."""
        cdf = np.cumsum(cv2.calcHist([small], [0], mask, [256], [0, 256]).ravel())
        total = cdf[-1]
        if total == 0:
            cdf = np.cumsum(cv2.calcHist([small], [0], None, [256], [0, 256]).ravel())
            total = cdf[-1]
        return (float(np.searchsorted(cdf, total * _STRETCH_LOW)),
                float(np.searchsorted(cdf, total * _STRETCH_HIGH)))

    def _normalise(self, small: np.ndarray, lo: float, hi: float) -> np.ndarray:
        """Stretch lo..hi to 0..255 (gain capped), then blur."""
        span = max(hi - lo, _STRETCH_MIN_RANGE)
        lut = np.clip((self._ramp - lo) * (255.0 / span), 0, 255).astype(np.uint8)
        stretched = cv2.LUT(small, lut)
        k = self.cfg.blur
        return cv2.GaussianBlur(stretched, (k, k), 0) if k > 1 else stretched

    def _use_size(self, w: int, h: int) -> None:
        """A new processed frame size: rasterise the masks for it and drop the background."""
        self._size = (w, h)
        if self._background is not None:
            self.reset("frame size changed")
        if self.cfg.masks:
            masked = np.zeros((h, w), np.uint8)
            polys = [np.round(np.asarray(p, np.float64) * (w - 1, h - 1)).astype(np.int32)
                     for p in self.cfg.masks]
            cv2.fillPoly(masked, polys, 255)
            self._keep = cv2.bitwise_not(masked)
            self._keep_pixels = cv2.countNonZero(self._keep)
        else:
            self._keep = None
            self._keep_pixels = w * h

    def _boxes(self, moving: np.ndarray) -> list[Box]:
        """Boxes of the changed regions whose area is within min_area..max_area of the frame."""
        h, w = moving.shape
        frame_px = w * h
        lo, hi = self.cfg.min_area * frame_px, self.cfg.max_area * frame_px
        contours, _ = cv2.findContours(moving, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        found = []
        for contour in contours:
            x, y, bw, bh = cv2.boundingRect(contour)
            if bw * bh < lo:
                continue  # cannot hold enough pixels
            # The contour runs through the centres of the region's edge pixels: add the outer
            # half of those pixels back (Pick's theorem) to get the region's pixel count.
            area = cv2.contourArea(contour) + cv2.arcLength(contour, True) / 2 + 1
            if lo <= area <= hi:
                found.append((bw * bh, (x / w, y / h, bw / w, bh / h)))
        found.sort(key=lambda item: item[0], reverse=True)
        return [box for _, box in found]


@dataclass
class _Track:
    """One object followed from frame to frame within an event."""

    times: list[float]
    centres: list[tuple[float, float]]
    sizes: list[float]  # box diagonal, share of the frame diagonal
    last_box: Box
    best_box: Box
    best_time: float
    first_frame: int  # index of the event's frame where the track began
    last_frame: int  # and where it was last seen
    misses: int = 0

    @classmethod
    def start(cls, box: Box, t: float, frame: int) -> _Track:
        return cls([t], [_centre(box)], [_size(box)], box, box, t, frame, frame)

    @property
    def hits(self) -> int:
        return len(self.centres)

    def add(self, box: Box, t: float, frame: int) -> None:
        self.last_frame = frame
        self.times.append(t)
        self.centres.append(_centre(box))
        self.sizes.append(_size(box))
        self.last_box = box
        self.misses = 0
        if box[2] * box[3] > self.best_box[2] * self.best_box[3]:
            self.best_box, self.best_time = box, t

    def gate(self, box: Box) -> float:
        return _GATE + 0.5 * max(self.last_box[2], self.last_box[3], box[2], box[3])

    def travel(self) -> tuple[float, bool]:
        """(how far the object went as a share of the frame diagonal, whether it went steadily).

        A straight line is fitted to the track's centres over time: travel is the distance that
        steady motion covers over the track's duration. An animal walking towards the camera
        barely moves but grows, so steady growth of its box counts too. The motion is steady when
        the fitted speed stands out from the scatter around the line (Student's t test at 1 %)
        and no single step carries half of the travel: specks that happen to chain up scatter
        as much as they go anywhere, and a track that hopped between two swaying branches
        moved in one jump.
        """
        n = len(self.times)
        if n < _MIN_TRACK:
            return 0.0, False
        t = np.asarray(self.times)
        tc = t - t.mean()
        stt = float(tc @ tc)
        if stt <= 0.0:
            return 0.0, False
        duration = float(t[-1] - t[0])
        dt = np.diff(t)
        unsteady = steady = 0.0
        for values, scale, signed in ((np.asarray(self.centres), _DIAGONAL, False),
                                      (np.asarray(self.sizes)[:, None], 1.0, True)):
            dev = values - values.mean(axis=0)
            slope = (tc @ dev) / stt
            speed = float(slope[0]) if signed else float(np.hypot(*slope))
            dist = max(speed, 0.0) * duration / scale
            if dist <= 0.0:
                continue
            resid = dev - np.outer(tc, slope)
            dof = values.shape[1] * (n - 2)
            sigma2 = float((resid * resid).sum()) / dof
            crit = _T_CRIT[dof - 1] if dof <= len(_T_CRIT) else _T_CRIT_MANY
            significant = sigma2 == 0.0 or speed / math.sqrt(sigma2 / stt) >= crit
            # Progress along the fitted direction; no single step may jump far ahead of the
            # fitted speed (a track that hopped from one swaying branch to the next).
            progress = values @ (slope / speed)
            jump = float(np.max(np.abs(np.diff(progress)) - speed * dt))
            if significant and jump <= _MAX_JUMP * speed * duration:
                steady = max(steady, dist)
            else:
                unsteady = max(unsteady, dist)
        return (steady, True) if steady > 0.0 else (unsteady, False)

    def size(self) -> float:
        """Median box diagonal, share of the frame diagonal."""
        return float(np.median(self.sizes))


def _centre(box: Box) -> tuple[float, float]:
    x, y, w, h = box
    return (x + w / 2, y + h / 2)


def _size(box: Box) -> float:
    return math.hypot(box[2], box[3]) / _DIAGONAL


@dataclass
class _Summary:
    """A track reduced to what the verdict needs (kept when the track ends)."""

    hits: int
    span: int  # frames from the track's first detection to its last
    travel: float
    steady: bool
    size: float
    best_box: Box
    best_time: float

    @classmethod
    def of(cls, track: _Track) -> _Summary:
        travel, steady = track.travel()
        return cls(track.hits, track.last_frame - track.first_frame + 1, travel, steady,
                   track.size(), track.best_box, track.best_time)


class EventMotion:
    """Accumulates one event's motion results and decides whether a real object moved."""

    def __init__(self, cfg: MotionConfig):
        self.cfg = cfg
        self.frames = 0  # results added
        self.motion_frames = 0  # results with at least one box
        self.light_jumps = 0
        self.max_area = 0.0  # largest box seen, share of the frame
        self._largest: tuple[Box, float] | None = None  # largest box seen and its time
        self._live: list[_Track] = []
        self._best_ended: _Summary | None = None

    def add(self, result: MotionResult, t: float) -> None:
        """Add the result for the frame taken at time `t` (seconds, any monotonic origin)."""
        self.frames += 1
        if result.light_jump:
            self.light_jumps += 1
        if result.light_jump or result.warming_up:
            # A new background: what is boxed from now on (ghosts included) cannot be linked to
            # the boxes before it.
            for track in self._live:
                self._end(track)
            self._live = []
            return
        if result.boxes:
            self.motion_frames += 1
            if result.largest_area > self.max_area:
                self.max_area = result.largest_area
                self._largest = (result.boxes[0], t)
        self._link(result.boxes[:_BOXES_TRACKED], t)

    def _link(self, boxes: list[Box], t: float) -> None:
        """Greedy nearest-centre association of this frame's boxes with the live tracks."""
        pairs = []
        for ti, track in enumerate(self._live):
            tx, ty = _centre(track.last_box)
            for bi, box in enumerate(boxes):
                bx, by = _centre(box)
                d = math.hypot(bx - tx, by - ty)
                if d <= track.gate(box):
                    pairs.append((d, ti, bi))
        pairs.sort()
        used_tracks: set[int] = set()
        used_boxes: set[int] = set()
        for _, ti, bi in pairs:
            if ti in used_tracks or bi in used_boxes:
                continue
            self._live[ti].add(boxes[bi], t, self.frames)
            used_tracks.add(ti)
            used_boxes.add(bi)
        still_live = []
        for ti, track in enumerate(self._live):
            if ti not in used_tracks:
                track.misses += 1
            if track.misses > _MAX_MISSES:
                self._end(track)
            else:
                still_live.append(track)
        for bi, box in enumerate(boxes):
            if bi not in used_boxes:
                still_live.append(_Track.start(box, t, self.frames))
        if len(still_live) > _MAX_LIVE_TRACKS:  # keep the best-established tracks
            still_live.sort(key=lambda tr: (tr.misses, -tr.hits))
            for track in still_live[_MAX_LIVE_TRACKS:]:
                self._end(track)
            still_live = still_live[:_MAX_LIVE_TRACKS]
        self._live = still_live

    def _end(self, track: _Track) -> None:
        summary = _Summary.of(track)
        if self._best_ended is None or self._rank(summary) > self._rank(self._best_ended):
            self._best_ended = summary

    def _needed(self, s: _Summary) -> float:
        """Travel that counts: min_travel, and at least 0.4 of the object's own size (a swaying
        branch's changed region covers its whole swing, so its centre never leaves it)."""
        return max(self.cfg.min_travel, _OWN_SIZE * s.size)

    def _persistent(self, s: _Summary) -> bool:
        """Seen often enough, and in most frames of its span (snowflakes chain up sparsely)."""
        return s.hits >= max(self.cfg.min_frames, _MIN_TRACK) and s.hits >= _DENSITY * s.span

    def _rank(self, s: _Summary) -> tuple[bool, bool, bool, float, int]:
        enough = self._persistent(s)
        far = s.travel >= self._needed(s)
        return (enough and far and s.steady, enough, far, s.travel if enough else 0.0, s.hits)

    def _best(self) -> _Summary | None:
        candidates = [_Summary.of(tr) for tr in self._live]
        if self._best_ended is not None:
            candidates.append(self._best_ended)
        return max(candidates, key=self._rank, default=None)

    @property
    def travel(self) -> float:
        """Travel of the best track (share of the frame diagonal); 0 when nothing moved."""
        best = self._best()
        return best.travel if best is not None else 0.0

    @property
    def best_box(self) -> Box | None:
        """The confirmed object's largest box (or the largest box seen); None if none."""
        best = self._best()
        if best is not None and self._rank(best)[0]:
            return best.best_box
        return self._largest[0] if self._largest else None

    @property
    def best_time(self) -> float | None:
        """Time of the frame that `best_box` comes from; None if no box was seen."""
        best = self._best()
        if best is not None and self._rank(best)[0]:
            return best.best_time
        return self._largest[1] if self._largest else None

    def confirmed(self) -> tuple[bool, str]:
        """(True, why) when a persistent object travelled; (False, why not) otherwise."""
        cfg = self.cfg
        jumps = (f" ({self.light_jumps} light jump{'s' if self.light_jumps != 1 else ''})"
                 if self.light_jumps else "")
        if self.frames == 0:
            return False, "no frames checked"
        best = self._best()
        if best is None:
            return False, f"no moving object in {self.frames} frames{jumps}"
        need = max(cfg.min_frames, _MIN_TRACK)
        if not self._persistent(best):
            return False, (f"no persistent object: seen in at most {best.hits}/{self.frames} "
                           f"frames (need {need}, and in {_DENSITY:.0%} of the frames it spans)"
                           f"{jumps}")
        if best.travel < self._needed(best):
            return False, (f"object did not travel (still or swaying): travel {best.travel:.3f} "
                           f"< {self._needed(best):.3f} in {best.hits}/{self.frames} "
                           f"frames{jumps}")
        if not best.steady:
            return False, (f"object did not travel steadily (sway or speckle): travel "
                           f"{best.travel:.3f} in {best.hits}/{self.frames} frames{jumps}")
        return True, f"object in {best.hits}/{self.frames} frames, travel {best.travel:.2f}"

    def stats(self) -> dict[str, float | int]:
        """Motion statistics for the event log."""
        return {"frames": self.frames, "motion_frames": self.motion_frames,
                "light_jumps": self.light_jumps, "max_area": round(self.max_area, 5),
                "travel": round(self.travel, 4)}


__all__ = ["Box", "EventMotion", "MotionCheck", "MotionResult"]
