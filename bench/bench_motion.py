"""Milliseconds per lores frame for the motion check (firmware/motion.py).

    .venv/bin/python bench/bench_motion.py [--frames 1000] [--size 320x240]

Frames: a smooth random background with sensor noise and one 40x30 object crossing it (numpy,
fixed seed), generated before timing. Each timed frame runs MotionCheck.check and
EventMotion.add, as the recorder does; 50 warm-up frames are not timed. Prints one line.
"""
from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from firmware.config import MotionConfig  # noqa: E402
from firmware.motion import EventMotion, MotionCheck  # noqa: E402

WARM_UP = 50


def make_frames(w: int, h: int, count: int, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    coarse = rng.uniform(60, 190, (h // 8, w // 8)).astype(np.float32)
    bg = cv2.resize(coarse, (w, h), interpolation=cv2.INTER_CUBIC)
    frames = []
    for i in range(count):
        scene = bg.copy()
        x = int((i * 6) % (w + 40)) - 20
        y = h // 2
        scene[y:y + 30, max(0, x):max(0, x + 40)] = 30
        frames.append(np.clip(scene + rng.normal(0, 4, scene.shape), 0, 255).astype(np.uint8))
    return frames


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=1000, help="timed frames (at least 500)")
    ap.add_argument("--size", default="320x240", help="lores size WxH")
    args = ap.parse_args()
    if args.frames < 500:
        ap.error("--frames must be at least 500")
    w, h = (int(v) for v in args.size.lower().split("x"))
    frames = make_frames(w, h, 200)
    cfg = MotionConfig()
    check = MotionCheck(cfg)
    event = EventMotion(cfg)
    for i in range(WARM_UP):
        event.add(check.check(frames[i % len(frames)]), i * 0.2)
    start = time.perf_counter()
    for i in range(args.frames):
        event.add(check.check(frames[i % len(frames)]), (WARM_UP + i) * 0.2)
    elapsed = time.perf_counter() - start
    ms = elapsed * 1000 / args.frames
    print(f"motion check: {ms:.3f} ms per {w}x{h} lores frame (mean of {args.frames}, "
          f"frame_height {cfg.frame_height}, opencv {cv2.__version__}, "
          f"{platform.machine()}, python {platform.python_version()})")


if __name__ == "__main__":
    main()
