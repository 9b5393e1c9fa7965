"""Hardware seams: one small interface per piece of hardware.

Backends: `firmware.pi` (picamera2, gpiozero on the board's pins) and `hw_sim` (the same gpiozero
device classes on gpiozero's own MockFactory, a camera that renders or replays scenes).
Everything above these interfaces is the same code on a unit and in the simulator.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Protocol

import numpy as np

if TYPE_CHECKING:
    from .devices import Illumination, Pir


@dataclass(frozen=True)
class LoresFrame:
    """A low-resolution frame as picamera2 gives it for a YUV420 stream.

    `yuv` has shape (h * 3 // 2, w), uint8: the first h rows are luma (Y), then U and V planes.
    `timestamp_us` is the sensor timestamp in microseconds on the camera's monotonic clock.
    """

    yuv: np.ndarray
    timestamp_us: int

    @property
    def size(self) -> tuple[int, int]:
        return self.yuv.shape[1], self.yuv.shape[0] * 2 // 3

    @property
    def luma(self) -> np.ndarray:
        w, h = self.size
        return self.yuv[:h, :w]


@dataclass(frozen=True)
class MainFrame:
    """A full-resolution RGB frame (h, w, 3) uint8 with its sensor timestamp in microseconds."""

    rgb: np.ndarray
    timestamp_us: int


@dataclass(frozen=True)
class ClipInfo:
    """What the camera wrote for one clip."""

    path: Path
    first_frame_us: int
    last_frame_us: int
    frames: int


class Camera(Protocol):
    """Camera with an always-running encoder and a pre-roll ring buffer (picamera2's
    H264Encoder + CircularOutput2).

    `open_clip` starts writing the ring buffer's pre-roll then the live stream to `path`;
    `close_clip` finishes the file and says which frames it holds.
    """

    main_size: tuple[int, int]
    lores_size: tuple[int, int]
    fps: float

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def capture_lores(self) -> LoresFrame: ...

    def capture_main(self) -> MainFrame: ...

    def open_clip(self, path: Path) -> None: ...

    def close_clip(self) -> ClipInfo: ...

    def frame_rate(self) -> float:
        """Frames per second the sensor delivers now (0.0 when it has stopped delivering)."""


class LightSensor(Protocol):
    def lux(self) -> float:
        """Ambient light in (approximate) lux."""


class BatteryMonitor(Protocol):
    def voltage(self) -> float:
        """Battery voltage in volts."""


class Thermometer(Protocol):
    def celsius(self) -> float: ...


@dataclass
class Hardware:
    """The unit's hardware, whichever backend built it."""

    camera: Camera
    pir: "Pir | None" = None
    light: LightSensor | None = None
    illumination: "Illumination | None" = None
    battery: BatteryMonitor | None = None
    thermometer: Thermometer | None = None
    # the data partition's (total, used, free) bytes; None: measure the real disk
    disk: Callable[[], Any] | None = None

    def close(self) -> None:
        for part in (self.pir, self.illumination):
            if part is not None:
                part.close()
        close_battery = getattr(self.battery, "close", None)  # gpiozero's MCP3008, the I2C bus
        if close_battery is not None:
            close_battery()
