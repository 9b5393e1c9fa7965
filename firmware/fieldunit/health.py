"""Health of a unit: battery, CPU temperature, disk, uptime, camera frame rate; low-battery mode;
the daily health photo.

Battery monitors (the config chooses):
- `Mcp3008Battery`: a resistor divider into an MCP3008 ADC read with gpiozero's `MCP3008` (SPI).
- `Ina219Battery`: the bus-voltage register of an INA219 over I2C (smbus2, imported lazily; an
  SMBus-like object may be passed in).
Low-battery mode has two thresholds: below `low_v` the unit stops optional uplinks and the
thumbnail upload; below `critical_v` it finishes the clip and shuts down cleanly. Each state
change needs `confirm_readings` readings in a row (an IR flash sags the voltage for a moment),
and a state is left only `hysteresis_v` above its threshold.
"""
from __future__ import annotations

import logging
from collections import deque
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Callable
from zoneinfo import ZoneInfo

from ..clock import Clock, parse_hhmm
from ..fsutil import atomic_write_bytes
from ..hardware import BatteryMonitor, Thermometer
from .config import HealthConfig
from .storage import HEALTH_DIR, DiskUsage

log = logging.getLogger(__name__)

OK, LOW, CRITICAL = "ok", "low", "critical"
_RANK = {OK: 0, LOW: 1, CRITICAL: 2}

# INA219 registers (datasheet SBOS448): bus voltage at 0x02, bits 15..3, LSB 4 mV
INA219_BUS_VOLTAGE = 0x02
INA219_LSB_V = 0.004


class Mcp3008Battery:
    """Battery voltage through a resistor divider into an MCP3008 channel (gpiozero, SPI)."""

    def __init__(self, channel: int, vref: float, divider_ratio: float, pin_factory: Any = None):
        from gpiozero import MCP3008

        self.divider_ratio = divider_ratio
        self.adc = MCP3008(channel=channel, max_voltage=vref, pin_factory=pin_factory)

    def voltage(self) -> float:
        return float(self.adc.voltage) * self.divider_ratio

    def close(self) -> None:
        self.adc.close()


class Ina219Battery:
    """Battery voltage from an INA219's bus-voltage register over I2C."""

    def __init__(self, bus: int = 1, address: int = 0x40, smbus: Any = None):
        if smbus is None:
            from smbus2 import SMBus  # only on a unit (the `pi` extra)

            smbus = SMBus(bus)
        self.bus = smbus
        self.address = address

    def voltage(self) -> float:
        word = self.bus.read_word_data(self.address, INA219_BUS_VOLTAGE)
        raw = ((word & 0xFF) << 8) | (word >> 8)  # SMBus words are little-endian, the INA219 big
        if raw & 0x1:
            raise OSError("INA219 reports a math overflow (OVF): bus voltage out of range")
        return (raw >> 3) * INA219_LSB_V

    def close(self) -> None:
        close = getattr(self.bus, "close", None)
        if close is not None:
            close()


class CpuThermometer:
    """CPU temperature from the kernel's thermal zone (millidegrees Celsius in a text file)."""

    def __init__(self, path: str | Path = "/sys/class/thermal/thermal_zone0/temp"):
        self.path = Path(path)

    def celsius(self) -> float:
        return int(self.path.read_text().strip()) / 1000.0


def build_battery(cfg: HealthConfig, pin_factory: Any = None, smbus: Any = None) -> BatteryMonitor | None:
    """The battery monitor the config names (None for 'none'; 'sim' is built by the simulator)."""
    if cfg.battery == "mcp3008":
        return Mcp3008Battery(cfg.mcp3008_channel, cfg.mcp3008_vref, cfg.divider_ratio, pin_factory)
    if cfg.battery == "ina219":
        return Ina219Battery(cfg.ina219_bus, cfg.ina219_address, smbus)
    return None


def system_uptime(path: str | Path = "/proc/uptime") -> float | None:
    try:
        return float(Path(path).read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


class FrameRate:
    """Frames per second over a sliding window of frame times (monotonic seconds)."""

    def __init__(self, window_s: float):
        self.window_s = window_s
        self.times: deque[float] = deque()

    def frame(self, t: float) -> None:
        self.times.append(t)
        while self.times and t - self.times[0] > self.window_s:
            self.times.popleft()

    def fps(self, now: float | None = None) -> float:
        if now is not None:
            while self.times and now - self.times[0] > self.window_s:
                self.times.popleft()
        if len(self.times) < 2:
            return 0.0
        span = self.times[-1] - self.times[0]
        return (len(self.times) - 1) / span if span > 0 else 0.0


class BatteryState:
    """Low-battery mode: ok → low → critical with confirmation and hysteresis."""

    def __init__(self, cfg: HealthConfig, on_change: Callable[[str, str, float], None] | None = None):
        self.cfg = cfg
        self.state = OK
        self.on_change = on_change
        self._pending: str | None = None
        self._count = 0

    def _raw(self, v: float) -> str:
        """The state this reading alone points to, given the current state (hysteresis)."""
        c = self.cfg
        h = c.hysteresis_v
        if v < c.critical_v:
            return CRITICAL
        if self.state == CRITICAL and v < c.critical_v + h:
            return CRITICAL
        if v < c.low_v:
            return LOW
        if self.state in (LOW, CRITICAL) and v < c.low_v + h:
            return LOW
        return OK

    def update(self, volts: float) -> str:
        target = self._raw(volts)
        if target == self.state:
            self._pending, self._count = None, 0
            return self.state
        if target != self._pending:
            self._pending, self._count = target, 0
        self._count += 1
        if self._count >= self.cfg.confirm_readings:
            old, self.state = self.state, target
            self._pending, self._count = None, 0
            log.warning("battery %.2f V: %s -> %s", volts, old, target)
            if self.on_change is not None:
                self.on_change(old, target, volts)
        return self.state

    @property
    def optional_uplinks_allowed(self) -> bool:
        """False in low-battery mode: no optional uplinks, no thumbnail upload."""
        return self.state == OK

    @property
    def shutdown_requested(self) -> bool:
        """True below the second threshold: finish the clip and shut down."""
        return self.state == CRITICAL


@dataclass
class HealthReport:
    ts: float
    battery_v: float | None
    battery_state: str
    cpu_c: float | None
    cpu_hot: bool
    disk_total_mb: float
    disk_free_mb: float
    uptime_s: float | None          # the system's
    run_s: float                    # the firmware's
    fps: float
    problems: list[str]

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class Health:
    """Reads everything; `check()` is called every `interval_s` from the main loop's periodic
    work and `frame()` for each camera frame."""

    def __init__(self, cfg: HealthConfig, clock: Clock, disk: Callable[[], DiskUsage],
                 battery: BatteryMonitor | None = None, thermometer: Thermometer | None = None,
                 uptime: Callable[[], float | None] = system_uptime,
                 camera_fps: Callable[[], float] | None = None,
                 on_battery_change: Callable[[str, str, float], None] | None = None):
        self.cfg = cfg
        self.clock = clock
        self.disk = disk
        self.battery = battery
        self.thermometer = thermometer
        self.uptime = uptime
        self.camera_fps = camera_fps  # the camera's own rate; else the rate of frames fed to frame()
        self.battery_state = BatteryState(cfg, on_battery_change)
        self.frames = FrameRate(cfg.fps_window_s)
        self.started = clock.monotonic()
        self.last: HealthReport | None = None
        self._last_check: float | None = None

    def frame(self, t: float | None = None) -> None:
        self.frames.frame(self.clock.monotonic() if t is None else t)

    def due(self) -> bool:
        return self._last_check is None or self.clock.monotonic() - self._last_check >= self.cfg.interval_s

    def check(self) -> HealthReport:
        mono = self.clock.monotonic()
        self._last_check = mono
        problems: list[str] = []
        volts = None
        if self.battery is not None:
            try:
                volts = float(self.battery.voltage())
            except OSError as err:
                problems.append(f"battery monitor unreadable: {err}")
        if volts is not None:
            self.battery_state.update(volts)
            if self.battery_state.state != OK:
                problems.append(f"battery {self.battery_state.state}: {volts:.2f} V")
        cpu = None
        if self.thermometer is not None:
            try:
                cpu = float(self.thermometer.celsius())
            except (OSError, ValueError) as err:
                problems.append(f"CPU temperature unreadable: {err}")
        hot = cpu is not None and cpu >= self.cfg.max_cpu_c
        if hot:
            problems.append(f"CPU at {cpu:.0f} °C (limit {self.cfg.max_cpu_c:.0f})")
        d = self.disk()
        if self.camera_fps is not None:
            fps = float(self.camera_fps())
            if fps == 0.0:
                problems.append("camera delivers no frames")
        else:
            fps = self.frames.fps(mono)
            if fps == 0.0:
                problems.append("no camera frames in the last %.0f s" % self.cfg.fps_window_s)
        self.last = HealthReport(
            ts=self.clock.now(), battery_v=volts, battery_state=self.battery_state.state,
            cpu_c=cpu, cpu_hot=hot, disk_total_mb=d.total / 2**20, disk_free_mb=d.free / 2**20,
            uptime_s=self.uptime(), run_s=mono - self.started, fps=round(fps, 2), problems=problems)
        return self.last


class DailyPhoto:
    """A time-lapse frame at a set local time every day, kept as proof the camera worked.

    Saved as `health/YYYY-MM-DD.jpg` (local date) under the data dir, atomically.
    """

    def __init__(self, at: str, timezone: str, clock: Clock, data_dir: Path):
        self.hour, self.minute = parse_hhmm(at)
        self.tz = ZoneInfo(timezone)
        self.clock = clock
        self.dir = Path(data_dir) / HEALTH_DIR

    def _local(self) -> datetime:
        return datetime.fromtimestamp(self.clock.now(), tz=self.tz)

    def path_for(self, day: str) -> Path:
        return self.dir / f"{day}.jpg"

    def due(self) -> bool:
        """True once the day's photo time has passed and today's photo is not on disk."""
        now = self._local()
        at = now.replace(hour=self.hour, minute=self.minute, second=0, microsecond=0)
        return now >= at and not self.path_for(now.strftime("%Y-%m-%d")).exists()

    def seconds_until_next(self) -> float:
        now = self._local()
        at = now.replace(hour=self.hour, minute=self.minute, second=0, microsecond=0)
        if at <= now:
            at += timedelta(days=1)
        return (at - now).total_seconds()

    def take(self, camera: Any) -> Path:
        import cv2

        frame = camera.capture_main()
        ok, buf = cv2.imencode(".jpg", cv2.cvtColor(frame.rgb, cv2.COLOR_RGB2BGR),
                               [cv2.IMWRITE_JPEG_QUALITY, 85])
        if not ok:
            raise RuntimeError("JPEG encoding of the health photo failed")
        path = self.path_for(self._local().strftime("%Y-%m-%d"))
        atomic_write_bytes(path, buf.tobytes())
        return path
