"""Replay of real footage: a video clip (decoded with PyAV) or an image burst, full frame.

Frames are decoded once when the scene is built (video: from `clip_start_s`, `duration_s`
long, thinned to at most `max_fps`) and resized per requested size on demand, so the same t
always gives the same frame.
"""
from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

import numpy as np

from .scenario import Replay

MAX_FPS = 10.0  # frames kept per second of video (the simulated camera runs at 10 fps)


class ReplayUnavailable(FileNotFoundError):
    pass


class ReplaySource:
    def __init__(self, item: Replay, realdata: Path | None, max_fps: float = MAX_FPS):
        if realdata is None or not Path(realdata).is_dir():
            raise ReplayUnavailable(
                f"replay of {item.file or item.files[0]!r} needs the realdata folder "
                f"(../shared/realdata beside the checkout), which is absent")
        self.item = item
        self.at = item.at
        self.end = item.at + item.duration_s
        self.truth = item.truth
        self._resized: OrderedDict[tuple, np.ndarray] = OrderedDict()
        if item.file:
            self.times, self.frames = _decode_video(Path(realdata) / item.file, item.clip_start_s,
                                                    item.duration_s, max_fps)
        else:
            self.frames = [_read_image(Path(realdata) / f) for f in item.files]
            self.times = [i * item.interval_s for i in range(len(self.frames))]

    def active(self, t: float) -> bool:
        return self.at <= t < self.end

    def index(self, t: float) -> int:
        rel = t - self.at
        if self.item.files:
            return int(rel // self.item.interval_s) % len(self.frames)
        i = int(np.searchsorted(self.times, rel, side="right")) - 1
        return min(max(i, 0), len(self.frames) - 1)

    def frame(self, t: float, size: tuple[int, int]) -> np.ndarray:
        import cv2

        key = (self.index(t), size)
        img = self._resized.get(key)
        if img is None:
            src = self.frames[key[0]]
            interp = cv2.INTER_AREA if src.shape[1] > size[0] else cv2.INTER_LINEAR
            img = cv2.resize(src, size, interpolation=interp)
            self._resized[key] = img
            if len(self._resized) > 64:
                self._resized.popitem(last=False)
        return img


def _read_image(path: Path) -> np.ndarray:
    import cv2

    if not path.is_file():
        raise ReplayUnavailable(f"replay image {path} is missing")
    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if img is None:
        raise ValueError(f"replay image {path} is not a readable image")
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def _decode_video(path: Path, start_s: float, duration_s: float, max_fps: float):
    import av

    if not path.is_file():
        raise ReplayUnavailable(f"replay video {path} is missing")
    times: list[float] = []
    frames: list[np.ndarray] = []
    step = 1.0 / max_fps
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        tb = float(stream.time_base)
        first = None
        for frame in container.decode(stream):
            if frame.pts is None:
                continue
            ts = frame.pts * tb
            if first is None:
                first = ts
            rel = ts - first - start_s
            if rel < -1e-6:
                continue
            if rel >= duration_s:
                break
            if times and rel - times[-1] < step - 1e-6:
                continue
            times.append(rel)
            frames.append(frame.to_ndarray(format="rgb24"))
    if not frames:
        raise ValueError(f"replay video {path} has no frames from {start_s} s on")
    if times[0] > 0:
        times[0] = 0.0  # show the first kept frame from the replay's start
    return np.asarray(times), frames
