"""Raspberry Pi backends: picamera2 for the camera, gpiozero on the board's pins.

picamera2 needs libcamera, which only Raspberry Pi OS has (apt: python3-picamera2), so it is
imported inside the functions that need it, never at module level.
"""
from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np

from .clock import Clock
from .config import Config
from .devices import Illumination, Pir
from .fieldunit.health import CpuThermometer, build_battery
from .hardware import ClipInfo, Hardware, LoresFrame, MainFrame

log = logging.getLogger(__name__)


class PiCamera:
    """Camera Module 3 through picamera2: H264Encoder feeding a CircularOutput2 ring buffer
    (the pre-roll), a YUV420 lores stream for the motion check, RGB main frames for stills."""

    def __init__(self, main_size, lores_size, fps: float, bitrate: int, pre_roll_s: float,
                 hflip: bool = False, vflip: bool = False):
        self.main_size, self.lores_size, self.fps = tuple(main_size), tuple(lores_size), fps
        self.bitrate, self.pre_roll_s = bitrate, pre_roll_s
        self.hflip, self.vflip = hflip, vflip
        self._picam2 = None
        self._circular = None
        self._clip: tuple[Path, int] | None = None
        self.last_lux: float | None = None
        self.frame_duration_us: float | None = None  # from the latest frame's metadata
        self.frame_timeout_s = max(2.0, 10.0 / fps)  # a capture waiting longer: the camera stalled

    def start(self) -> None:
        from libcamera import Transform
        from picamera2 import Picamera2
        from picamera2.encoders import H264Encoder
        from picamera2.outputs import CircularOutput2

        cam = Picamera2()
        config = cam.create_video_configuration(
            main={"size": self.main_size, "format": "RGB888"},
            lores={"size": self.lores_size, "format": "YUV420"},
            controls={"FrameRate": self.fps},
            transform=Transform(hflip=self.hflip, vflip=self.vflip),
        )
        cam.configure(config)
        encoder = H264Encoder(bitrate=self.bitrate, repeat=True, iperiod=max(1, int(self.fps)))
        # picamera2 #1020: the ring buffer holds a little less than asked; ask for a margin
        self._circular = CircularOutput2(buffer_duration_ms=int((self.pre_roll_s + 0.5) * 1000))
        cam.start_recording(encoder, self._circular)
        self._picam2 = cam

    def stop(self) -> None:
        if self._clip is not None:
            self.close_clip()
        if self._picam2 is not None:
            self._picam2.stop_recording()
            self._picam2.close()
            self._picam2 = None

    def _request(self, stream: str) -> tuple[np.ndarray, int]:
        # wait=False hands back the job; its result waits for the next frame, with a timeout so a
        # stalled camera raises TimeoutError (the loop stops feeding systemd's watchdog) instead
        # of blocking forever
        job = self._picam2.capture_request(wait=False)
        try:
            request = job.get_result(timeout=self.frame_timeout_s)
        except TimeoutError:
            self.frame_duration_us = None
            # the job stays queued in picamera2: cancel it, or the request it gets once frames
            # return would never be released (a lost buffer each time)
            self._picam2.cancel_all_and_flush()
            raise
        try:
            array = request.make_array(stream)
            meta = request.get_metadata()
        finally:
            request.release()
        self.last_lux = meta.get("Lux", self.last_lux)
        self.frame_duration_us = meta.get("FrameDuration", self.frame_duration_us)
        return array, int(meta.get("SensorTimestamp", time.monotonic_ns()) // 1000)

    def capture_lores(self) -> LoresFrame:
        yuv, ts = self._request("lores")
        return LoresFrame(yuv=yuv, timestamp_us=ts)

    def capture_main(self) -> MainFrame:
        bgr, ts = self._request("main")  # libcamera "RGB888" is B, G, R in memory
        return MainFrame(rgb=np.ascontiguousarray(bgr[..., 2::-1]), timestamp_us=ts)

    def frame_rate(self) -> float:
        if self._picam2 is None or not self.frame_duration_us:
            return 0.0
        return 1e6 / float(self.frame_duration_us)

    def open_clip(self, path: Path) -> None:
        from picamera2.outputs import PyavOutput

        self._circular.open_output(PyavOutput(str(path)))
        self._clip = (Path(path), time.monotonic_ns() // 1000 - int(self.pre_roll_s * 1e6))

    def close_clip(self) -> ClipInfo:
        path, first_us = self._clip
        self._clip = None
        self._circular.close_output()
        last_us = time.monotonic_ns() // 1000
        if not path.exists() or path.stat().st_size == 0:
            # picamera2 #1403: close_output() occasionally leaves no file
            raise OSError(f"camera wrote no clip to {path}")
        frames = int((last_us - first_us) / 1e6 * self.fps)
        return ClipInfo(path=path, first_frame_us=first_us, last_frame_us=last_us, frames=frames)


class CameraLux:
    """Ambient light from the camera's own lux estimate (no separate light sensor)."""

    def __init__(self, camera: PiCamera):
        self.camera = camera

    def lux(self) -> float:
        return float(self.camera.last_lux if self.camera.last_lux is not None else 0.0)


def build_pi_hardware(cfg: Config, clock: Clock) -> Hardware:
    c = cfg.camera
    camera = PiCamera(c.main_size, c.lores_size, c.fps, c.bitrate, cfg.recorder.pre_roll_s, c.hflip, c.vflip)
    pir = Pir(cfg.pir.pin, clock, active_high=cfg.pir.active_high) if cfg.pir.enabled else None
    ic = cfg.illumination
    ill = Illumination(ic.ir_cut_pin, ic.ir_led_pin, ic.led_brightness)
    hc = cfg.health
    return Hardware(camera=camera, pir=pir, light=CameraLux(camera), illumination=ill,
                    battery=build_battery(hc), thermometer=CpuThermometer(hc.thermal_zone))
