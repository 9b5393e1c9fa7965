"""Where clips and thumbnails live on the data partition.

Layout under the data dir:
    partial/<event>.mp4             clip being recorded (never a finished clip; removed at start-up)
    clips/YYYY-MM-DD/<event>.mp4    kept clips, committed atomically (fsync + rename + fsync dir)
    thumbs/YYYY-MM-DD/<event>.jpg   thumbnail of the frame where the object is largest
    thumbs/discarded/<event>.jpg    small audit thumbnail of a discarded trigger (deleted first when short of space)
"""
from __future__ import annotations

import logging
from datetime import datetime, timezone
from pathlib import Path

import cv2
import numpy as np

from .fsutil import atomic_write_bytes, commit_file, remove_atomic_temps

log = logging.getLogger(__name__)

DISCARDED_THUMB_WIDTH = 320


class ClipStore:
    def __init__(self, data_dir: Path):
        self.data_dir = Path(data_dir)
        self.clips = self.data_dir / "clips"
        self.tmp = self.data_dir / "partial"
        self.thumbs = self.data_dir / "thumbs"
        self.tmp.mkdir(parents=True, exist_ok=True)
        self.thumbs.mkdir(parents=True, exist_ok=True)

    def recover(self) -> list[str]:
        """Remove clips left half-written by a power cut or crash; return their names."""
        removed = []
        for p in sorted(self.tmp.iterdir()):
            p.unlink()
            removed.append(p.name)
        for sub in (self.thumbs, self.data_dir / "health"):  # atomic writes killed before their rename
            removed += [p.name for p in remove_atomic_temps(sub)] if sub.is_dir() else []
        if removed:
            log.warning("removed %d unfinished clip(s) after an interrupted run: %s", len(removed), removed)
        return removed

    def temp_clip(self, event_id: str) -> Path:
        return self.tmp / f"{event_id}.mp4"

    @staticmethod
    def _day(ts: float) -> str:
        return datetime.fromtimestamp(ts, tz=timezone.utc).strftime("%Y-%m-%d")

    def clip_path(self, event_id: str, start: float) -> Path:
        return self.clips / self._day(start) / f"{event_id}.mp4"

    def thumb_path(self, event_id: str, start: float, kept: bool) -> Path:
        if kept:
            return self.thumbs / self._day(start) / f"{event_id}.jpg"
        return self.thumbs / "discarded" / f"{event_id}.jpg"

    def rel(self, path: Path) -> str:
        return str(Path(path).relative_to(self.data_dir))

    def commit_clip(self, tmp: Path, final: Path) -> None:
        """Move a finished clip to its final path: fsync, rename, fsync the folder."""
        commit_file(tmp, final)

    def finish_commit(self, event_id: str, final: Path) -> bool:
        """After a power cut while an event was being saved: True when its clip is whole at
        `final`, committing it from partial/ first if it is still there and decodes to the end."""
        if final.is_file():
            return True  # commit_file renames only after an fsync: a clip there is whole
        tmp = self.temp_clip(event_id)
        if tmp.is_file() and clip_is_whole(tmp):
            commit_file(tmp, final)
            return True
        return False

    def drop_clip(self, tmp: Path) -> None:
        tmp.unlink(missing_ok=True)

    def write_thumbnail(self, rgb: np.ndarray, path: Path, kept: bool) -> None:
        img = rgb
        if not kept:  # a small audit thumbnail
            h, w = rgb.shape[:2]
            scale = min(1.0, DISCARDED_THUMB_WIDTH / w)
            img = cv2.resize(rgb, (int(w * scale), int(h * scale)), interpolation=cv2.INTER_AREA)
        ok, buf = cv2.imencode(".jpg", cv2.cvtColor(img, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 85])
        if not ok:
            raise RuntimeError(f"JPEG encoding failed for {path.name}")
        atomic_write_bytes(path, buf.tobytes())


def clip_is_whole(path: Path) -> bool:
    """True when the clip decodes to the end with at least one frame."""
    import av

    try:
        with av.open(str(path)) as box:
            return sum(1 for _ in box.decode(video=0)) > 0
    except (av.error.FFmpegError, ValueError, IndexError):
        return False
