"""A simulated Camera Module behaving like picamera2 with H264Encoder + CircularOutput2.

The encoder "runs" from `start()`: every frame on the fps grid exists, with microsecond sensor
timestamps. Frames are rendered lazily — only when something asks for them — so the clock can
jump across quiet time: `capture_lores`/`capture_main` render the frame due now, and
`close_clip` renders and encodes the clip's frames, from the ring buffer's pre-roll to the
moment the clip was closed. The lighting (IR-cut filter, IR LEDs) is remembered over time, so a
pre-roll frame shows the scene as it was lit then (dark at night before the LEDs came on).
"""
from __future__ import annotations

import bisect
import json
import math
from fractions import Fraction
from pathlib import Path
from typing import Callable, Protocol

import av
import cv2
import numpy as np

from firmware.hardware import ClipInfo, LoresFrame, MainFrame

from .clock import SimClock


class World(Protocol):
    def render(self, t: float, size: tuple[int, int], ir: bool, leds_on: bool) -> np.ndarray: ...


class SimCamera:
    def __init__(
        self,
        world: World,
        clock: SimClock,
        main_size: tuple[int, int],
        lores_size: tuple[int, int],
        fps: float,
        buffer_s: float,
        lighting: Callable[[], tuple[bool, bool]],
        bitrate: int = 2_000_000,
    ):
        self.world = world
        self.clock = clock
        self.main_size = tuple(main_size)
        self.lores_size = tuple(lores_size)
        self.fps = fps
        self.buffer_s = buffer_s
        self.bitrate = bitrate
        self._lighting = lighting  # () -> (ir, leds_on), read from the illumination pins
        self._light_times: list[float] = []
        self._light_states: list[tuple[bool, bool]] = []
        self._started_frame: int | None = None
        self._clip: tuple[Path, int] | None = None
        self.frames_delivered = 0
        self.stalled = False  # a scenario may stall the camera (no frames: the watchdog must notice)

    # --- frame grid -------------------------------------------------------------------------
    def _frame_index(self, elapsed: float) -> int:
        return int(math.floor(elapsed * self.fps + 1e-9))

    def _frame_time(self, index: int) -> float:
        return index / self.fps

    def _timestamp_us(self, index: int) -> int:
        # picamera2 sensor timestamps are on the system's monotonic clock
        return int(round((self.clock.monotonic() - self.clock.elapsed + self._frame_time(index)) * 1e6))

    def _note_lighting(self) -> tuple[bool, bool]:
        state = self._lighting()
        if not self._light_states or self._light_states[-1] != state:
            self._light_times.append(self.clock.elapsed)
            self._light_states.append(state)
        return state

    def _lighting_at(self, t: float) -> tuple[bool, bool]:
        i = bisect.bisect_right(self._light_times, t) - 1
        return self._light_states[max(i, 0)]

    def _render(self, index: int, size: tuple[int, int]) -> np.ndarray:
        t = self._frame_time(index)
        ir, leds = self._lighting_at(t)
        w, h = size
        mw, mh = self.main_size
        if (w, h) == (mw, mh) or abs(w / h - mw / mh) < 1e-3:
            return self.world.render(t, (w, h), ir, leds)
        # a lores stream sees the same field of view as main, scaled (and stretched) by the ISP
        rh = max(2, int(round(w * mh / mw)) // 2 * 2)
        return cv2.resize(self.world.render(t, (w, rh), ir, leds), (w, h), interpolation=cv2.INTER_AREA)

    # --- Camera protocol --------------------------------------------------------------------
    def start(self) -> None:
        self._note_lighting()
        self._started_frame = self._frame_index(self.clock.elapsed)

    def stop(self) -> None:
        if self._clip is not None:
            self.close_clip()
        self._started_frame = None

    def _current(self) -> int:
        if self._started_frame is None:
            raise RuntimeError("camera not started")
        if self.stalled:
            raise TimeoutError("camera delivered no frame (stalled)")
        self._note_lighting()
        return self._frame_index(self.clock.elapsed)

    def capture_lores(self) -> LoresFrame:
        i = self._current()
        rgb = self._render(i, self.lores_size)
        yuv = cv2.cvtColor(rgb, cv2.COLOR_RGB2YUV_I420)
        self.frames_delivered += 1
        return LoresFrame(yuv=yuv, timestamp_us=self._timestamp_us(i))

    def capture_main(self) -> MainFrame:
        i = self._current()
        self.frames_delivered += 1
        return MainFrame(rgb=self._render(i, self.main_size), timestamp_us=self._timestamp_us(i))

    def frame_rate(self) -> float:
        return 0.0 if self.stalled or self._started_frame is None else float(self.fps)

    def open_clip(self, path: Path) -> None:
        if self._clip is not None:
            raise RuntimeError("a clip is already open")
        now = self._current()
        first = max(self._started_frame, now - int(round(self.buffer_s * self.fps)))
        self._clip = (Path(path), first)

    def close_clip(self) -> ClipInfo:
        if self._clip is None:
            raise RuntimeError("no clip is open")
        path, first = self._clip
        self._clip = None
        self._note_lighting()
        last = self._frame_index(self.clock.elapsed)
        write_h264(path, (self._render(i, self.main_size) for i in range(first, last + 1)),
                   self.fps, self.bitrate,
                   metadata={"first_frame_us": self._timestamp_us(first)})
        return ClipInfo(path=path, first_frame_us=self._timestamp_us(first),
                        last_frame_us=self._timestamp_us(last), frames=last - first + 1)


def write_h264(path: Path, frames, fps: float, bitrate: int, metadata: dict | None = None) -> int:
    """Encode RGB frames into an H.264 .mp4 with PyAV (libx264); return the frame count."""
    n = 0
    rate = Fraction(fps).limit_denominator(1000)
    with av.open(str(path), mode="w", format="mp4") as container:
        if metadata:
            container.metadata["comment"] = json.dumps(metadata)
        stream = None
        for rgb in frames:
            if stream is None:
                h, w = rgb.shape[:2]
                stream = container.add_stream("libx264", rate=rate)
                stream.width, stream.height = w, h
                stream.pix_fmt = "yuv420p"
                stream.bit_rate = bitrate
                stream.options = {"preset": "ultrafast", "tune": "zerolatency"}
                stream.codec_context.gop_size = max(1, int(round(fps)))
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            frame.pts = n
            frame.time_base = Fraction(1) / rate
            for packet in stream.encode(frame):
                container.mux(packet)
            n += 1
        if stream is not None:
            for packet in stream.encode():
                container.mux(packet)
    return n
