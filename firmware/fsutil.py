"""Durable file writes for an SD card that may lose power at any moment.

A file is written under a temporary name, flushed and fsynced, renamed over its final name
(`os.replace` is atomic), and its directory fsynced so the rename itself survives a power cut.
"""
from __future__ import annotations

import os
from pathlib import Path


def fsync_dir(path: Path) -> None:
    fd = os.open(str(path), os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_file(path: Path) -> None:
    fd = os.open(str(path), os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


TMP_MARK = ".tmp-"  # atomic_write_bytes writes ".<name>.tmp-<pid>" beside the file, then renames


def is_atomic_temp(path: Path) -> bool:
    """A half-written file atomic_write_bytes leaves when it is killed before its rename."""
    return path.name.startswith(".") and TMP_MARK in path.name


def remove_atomic_temps(root: Path) -> list[Path]:
    """At start-up: delete what killed atomic writes left under `root`; return what went."""
    gone = [p for p in Path(root).rglob(f".*{TMP_MARK}*") if p.is_file() and is_atomic_temp(p)]
    for p in gone:
        p.unlink()
    return gone


def commit_file(tmp: Path, final: Path) -> None:
    """Make a finished temporary file durable and move it to its final name atomically."""
    fsync_file(tmp)
    final.parent.mkdir(parents=True, exist_ok=True)
    os.replace(tmp, final)
    fsync_dir(final.parent)
    if tmp.parent != final.parent:
        fsync_dir(tmp.parent)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write `data` to `path` so that a power cut leaves either the old file or the new one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}{TMP_MARK}{os.getpid()}")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    fsync_dir(path.parent)
