"""Reading labelled media for evaluation: still images and clips (PyAV), as RGB frames."""
from __future__ import annotations

from pathlib import Path

import numpy as np

IMAGE_EXT = {".jpg", ".jpeg", ".png", ".bmp"}
VIDEO_EXT = {".mp4", ".avi", ".mov", ".mkv", ".h264"}


class MediaError(ValueError):
    """A file that cannot be read as an image or a clip."""


def read_image(path: Path) -> np.ndarray:
    import cv2

    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        raise MediaError(f"{path}: not a readable image")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def sample_clip(path: Path, n: int) -> list[np.ndarray]:
    """Up to n RGB frames spread evenly over the clip (decoded with PyAV)."""
    import av

    try:
        with av.open(str(path)) as box:
            frames = [f.to_ndarray(format="rgb24") for f in box.decode(video=0)]
    except (av.error.FFmpegError, IndexError) as e:
        raise MediaError(f"{path}: not a readable clip ({e})") from e
    if not frames:
        raise MediaError(f"{path}: clip has no video frames")
    idx = np.unique(np.linspace(0, len(frames) - 1, num=min(n, len(frames))).round().astype(int))
    return [frames[i] for i in idx]


def read_media(path: Path, clip_frames: int) -> tuple[str, list[np.ndarray]]:
    ext = path.suffix.lower()
    if not path.is_file():
        raise MediaError(f"{path}: file not found")
    if ext in IMAGE_EXT:
        return "image", [read_image(path)]
    if ext in VIDEO_EXT:
        return "video", sample_clip(path, clip_frames)
    raise MediaError(f"{path}: unknown media type {ext!r} (images: {sorted(IMAGE_EXT)}, "
                     f"clips: {sorted(VIDEO_EXT)})")
