"""`trailcam doctor`: the install check a ranger runs once, at the tree, with a phone or laptop.

Each line is ✔ (fine), ✘ (broken, with what to do) or – (not configured). Checks: the camera
opens and delivers frames (and saves a photo to aim by), a PIR walk test counting triggers,
the light sensor, the battery, the clock (and RTC), disk space, the LoRaWAN modem answers and
is joined, the MQTT broker is reachable. Exit status 0 when nothing failed, 1 otherwise.

Stop the service first (`sudo systemctl stop trailcam`): the camera opens for one process only.
"""
from __future__ import annotations

import argparse
import logging
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from ..clock import Clock
from ..fsutil import atomic_write_bytes
from .storage import DiskUsage, real_disk

log = logging.getLogger(__name__)

OK_MARK, FAIL_MARK, SKIP_MARK = "✔", "✘", "–"
MB = 1024 * 1024


@dataclass
class CheckResult:
    name: str
    ok: bool | None  # None = not configured, skipped
    detail: str
    fix: str = ""

    def line(self) -> str:
        mark = SKIP_MARK if self.ok is None else OK_MARK if self.ok else FAIL_MARK
        text = f"{mark} {self.name:<8} {self.detail}"
        if self.ok is False and self.fix:
            text += f"\n    → {self.fix}"
        return text


@dataclass
class DoctorSettings:
    walk_s: float = 30.0
    frames: int = 10
    photo: Path | None = None           # default: <data_dir>/doctor/aim.jpg
    min_free_mb: float = 1000.0
    min_year: int = 2024
    rtc_path: Path = Path("/sys/class/rtc/rtc0")
    broker_timeout_s: float = 10.0


class Doctor:
    def __init__(self, cfg: Any, hw: Any, clock: Clock, data_dir: Path,
                 settings: DoctorSettings | None = None,
                 disk: Callable[[], DiskUsage] | None = None,
                 modem_check: Callable[[], CheckResult] | None = None,
                 broker_check: Callable[[], CheckResult] | None = None,
                 out: Callable[[str], None] = print):
        self.cfg = cfg
        self.hw = hw
        self.clock = clock
        self.data_dir = Path(data_dir)
        self.s = settings or DoctorSettings()
        self.disk = disk or real_disk(self.data_dir)
        self.modem_check = modem_check if modem_check is not None else self._modem_from_config
        self.broker_check = broker_check if broker_check is not None else self._broker_from_config
        self.out = out
        self.results: list[CheckResult] = []

    def run(self) -> int:
        for check in (self.camera, self.pir, self.light, self.battery, self.clock_check,
                      self.disk_check, self.modem_check, self.broker_check):
            try:
                r = check()
            except Exception as err:  # a check that crashes is a failed check, reported
                name = getattr(check, "__name__", "check").replace("_check", "").replace("_from_config", "")
                r = CheckResult(name, False, f"error: {type(err).__name__}: {err}",
                                "see `journalctl -u trailcam` and the wiring for this part")
            self.results.append(r)
            self.out(r.line())
        failed = [r for r in self.results if r.ok is False]
        self.out(f"\n{len(self.results) - len(failed)} of {len(self.results)} checks passed"
                 + ("" if not failed else f"; fix: {', '.join(r.name for r in failed)}"))
        return 1 if failed else 0

    # --- checks -------------------------------------------------------------------------------
    def camera(self) -> CheckResult:
        cam = self.hw.camera
        fix = ("check the ribbon cable (both ends, contacts the right way), "
               "`rpicam-hello --list-cameras`, camera_auto_detect=1 in /boot/firmware/config.txt")
        cam.start()
        stamps = []
        for _ in range(self.s.frames):
            f = cam.capture_lores()
            stamps.append(f.timestamp_us)
            self.clock.sleep(1.0 / max(1.0, float(cam.fps)))
        if len(set(stamps)) < 2 or stamps != sorted(stamps):
            distinct = len(set(stamps))
            return CheckResult("camera", False,
                               f"frames do not advance ({distinct} distinct of {len(stamps)})", fix)
        span = (stamps[-1] - stamps[0]) / 1e6
        fps = (len(stamps) - 1) / span if span > 0 else 0.0
        main = cam.capture_main()
        photo = self.s.photo or (self.data_dir / "doctor" / "aim.jpg")
        _save_jpeg(main.rgb, photo)
        h, w = main.rgb.shape[:2]
        mean = float(main.rgb.mean())
        detail = f"{len(stamps)} frames at {fps:.1f} fps; {w}x{h} photo saved to {photo} (aim by it)"
        if mean < 2 or mean > 253:
            return CheckResult("camera", False, detail + f"; image is {'black' if mean < 2 else 'white'}",
                               "remove the lens cap / check exposure; at night the IR LEDs must work")
        return CheckResult("camera", True, detail)

    def pir(self) -> CheckResult:
        pir = self.hw.pir
        if pir is None:
            return CheckResult("pir", None, "no PIR configured (pir.enabled = false)")
        self.out(f"  PIR walk test: walk across the view 3–5 m in front of the camera for {self.s.walk_s:.0f} s …")
        pir.take()  # forget edges from before the test
        count = 0
        end = self.clock.monotonic() + self.s.walk_s
        while True:
            remaining = end - self.clock.monotonic()
            if remaining <= 0:
                break
            if self.clock.wait(pir.triggered, remaining) and pir.take() is not None:
                count += 1
        pin = getattr(self.cfg.pir, "pin", "?")
        if count == 0:
            return CheckResult("pir", False, f"no trigger in {self.s.walk_s:.0f} s",
                               f"check the wiring to GPIO{pin} (BCM) and 5 V/GND, let the sensor warm up "
                               "60 s, turn its sensitivity up, and walk across (not towards) it")
        return CheckResult("pir", True, f"{count} trigger(s) in {self.s.walk_s:.0f} s on GPIO{pin}")

    def light(self) -> CheckResult:
        sensor = self.hw.light
        if sensor is None:
            return CheckResult("light", None, "no light sensor (day/night from the camera only)")
        lux = float(sensor.lux())
        ic = self.cfg.illumination
        if lux < 0:
            return CheckResult("light", False, f"{lux:.1f} lux is impossible", "check the light sensor's wiring")
        phase = "night" if lux < ic.dark_lux else "day" if lux > ic.light_lux else "twilight"
        return CheckResult("light", True, f"{lux:.1f} lux ({phase}; night below {ic.dark_lux:g}, "
                                          f"day above {ic.light_lux:g})")

    def battery(self) -> CheckResult:
        hc = self.cfg.health
        bat = self.hw.battery
        if bat is None:
            return CheckResult("battery", None, f"no battery monitor (health.battery = {hc.battery!r})")
        fix = ("check the monitor's wiring; "
               + ("SPI enabled (raspi-config nonint do_spi 0)" if hc.battery == "mcp3008"
                  else "I2C enabled (raspi-config nonint do_i2c 0), `i2cdetect -y 1` shows the INA219"))
        v = float(bat.voltage())
        if v < 1.0:
            return CheckResult("battery", False, f"{v:.2f} V: no battery seen", fix)
        if v < hc.critical_v:
            return CheckResult("battery", False, f"{v:.2f} V, below critical {hc.critical_v:g} V",
                               "charge or replace the battery before leaving the unit")
        state = "low" if v < hc.low_v else "ok"
        return CheckResult("battery", state == "ok", f"{v:.2f} V ({state}; low below {hc.low_v:g} V)",
                           "charge the battery before leaving the unit")

    def clock_check(self) -> CheckResult:
        now = self.clock.now()
        year = time.gmtime(now).tm_year
        rtc = self.s.rtc_path.exists()
        rtc_text = "RTC present" if rtc else "no RTC"
        stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(now))
        if year < self.s.min_year:
            return CheckResult("clock", False, f"{stamp}: the time was never set ({rtc_text})",
                               "connect to a network once (NTP) or set it: sudo date -s '2025-01-31 12:00'; "
                               "fit an RTC so the time survives power cuts")
        if not rtc:
            return CheckResult("clock", True, f"{stamp} ({rtc_text}: the time is lost at each power cut "
                               "without network; Pi 5: fit the RTC battery, "
                               "else a DS3231 with dtoverlay=i2c-rtc,ds3231)")
        return CheckResult("clock", True, f"{stamp} ({rtc_text})")

    def disk_check(self) -> CheckResult:
        if not self.data_dir.is_dir():
            return CheckResult("disk", False, f"data folder {self.data_dir} does not exist",
                               "run deploy/install.sh, or: "
                               f"sudo install -d -o trailcam -g trailcam -m 750 {self.data_dir}")
        d = self.disk()
        free = d.free / MB
        detail = f"{free:.0f} MB free of {d.total / MB:.0f} MB on {self.data_dir}"
        if free < self.s.min_free_mb:
            return CheckResult("disk", False, detail,
                               f"use a larger SD card or delete old clips; at least {self.s.min_free_mb:.0f} MB free")
        return CheckResult("disk", True, detail)

    def _modem_from_config(self) -> CheckResult:
        up = self.cfg.uplink
        if not (up.enabled and up.lora.enabled):
            return CheckResult("modem", None, "no LoRaWAN uplink configured")
        import serial

        from ..uplink.at_modem import DIALECTS, ModemLink

        lc = up.lora
        baud = lc.baud or (115200 if lc.modem == "rak3172" else 9600)
        with serial.Serial(lc.port, baud, timeout=0.1) as ser:
            return check_modem(ModemLink(ser, DIALECTS[lc.modem]()), lc.command_timeout_s,
                               lc.join_timeout_s, lc.port)

    def _broker_from_config(self) -> CheckResult:
        up = self.cfg.uplink
        if not (up.enabled and up.mqtt.enabled):
            return CheckResult("broker", None, "no MQTT uplink configured")
        from ..uplink.mqtt import MqttTransport

        mc = up.mqtt
        t = MqttTransport(mc, self.cfg.device.id, self.clock)
        try:
            deadline = time.monotonic() + self.s.broker_timeout_s  # network: real time
            while time.monotonic() < deadline and not t.up():
                time.sleep(0.1)
            up_now = t.up()
        finally:
            t.close()
        where = f"{mc.host}:{mc.port}{' (TLS)' if mc.tls else ''}"
        if not up_now:
            return CheckResult("broker", False, f"no MQTT session with {where} in {self.s.broker_timeout_s:.0f} s",
                               "check the network (Wi-Fi/cellular), host and port, CA file, user and "
                               "the password in /etc/trailcam/credentials/mqtt-password; "
                               f"try: mosquitto_pub -h {mc.host} -p {mc.port} -t test -m hi")
        return CheckResult("broker", True, f"connected to {where}")


def check_modem(link: Any, command_timeout_s: float, join_timeout_s: float, port: str) -> CheckResult:
    """The modem answers `AT` and is joined (or joins now)."""
    reply, _ = link.command("AT", command_timeout_s)
    if reply.kind != "ok":
        return CheckResult("modem", False, f"no answer on {port} ({reply.text})",
                           "check the UART wiring (TX↔RX), enable the serial port without console: "
                           "raspi-config nonint do_serial_hw 0; do_serial_cons 1; and the modem's power")
    cmd = link.dialect.joined_cmd()
    if cmd is not None:
        reply, values = link.command(cmd, command_timeout_s)
        if reply.kind == "ok" and link.dialect.joined_value(values):
            return CheckResult("modem", True, f"answers on {port}; joined")
    reply, _ = link.command(link.dialect.join_cmd(), command_timeout_s)
    deadline = time.monotonic() + join_timeout_s  # radio round trip: real time at the seam
    while time.monotonic() < deadline:
        for line in link.poll():
            if line.kind in ("joined", "done") and "JOIN" in line.text.upper():
                return CheckResult("modem", True, f"answers on {port}; joined now")
            if line.kind == "join_failed":
                return CheckResult("modem", False, f"answers on {port}; join failed ({line.text})",
                                   "check the keys (DevEUI/AppEUI/AppKey) on the network server, "
                                   "the region and the antenna; try from a higher spot")
        time.sleep(0.05)
    return CheckResult("modem", False, f"answers on {port}; no join accept in {join_timeout_s:.0f} s",
                       "no gateway in reach, or wrong keys/region: check coverage and the network server")


def _save_jpeg(rgb: Any, path: Path) -> None:
    import cv2

    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 90])
    if not ok:
        raise RuntimeError("JPEG encoding failed")
    atomic_write_bytes(Path(path), buf.tobytes())


# --- command line -------------------------------------------------------------------------------
def add_doctor_parser(subparsers: Any) -> argparse.ArgumentParser:
    d = subparsers.add_parser("doctor", help="field install check: camera, PIR walk test, light, "
                                             "battery, clock, disk, modem, broker")
    d.add_argument("--config", default="/etc/trailcam/config.toml", help="configuration TOML")
    d.add_argument("--walk-seconds", type=float, default=30.0, help="length of the PIR walk test")
    d.add_argument("--photo", help="where to save the aiming photo (default DATA_DIR/doctor/aim.jpg)")
    d.set_defaults(func=cmd_doctor)
    return d


def cmd_doctor(args: argparse.Namespace) -> int:
    from ..config import ConfigError, load_config

    try:
        cfg = load_config(args.config)
    except ConfigError as err:
        print(err, file=sys.stderr)
        return 2
    settings = DoctorSettings(walk_s=args.walk_seconds,
                              photo=Path(args.photo) if args.photo else None,
                              min_free_mb=max(1000.0, cfg.storage.min_free_mb * 5))
    return run_doctor(cfg, settings)


def run_doctor(cfg: Any, settings: DoctorSettings, out: Callable[[str], None] = print) -> int:
    """Build the hardware the config names (the Pi's or the simulator's) and run every check."""
    data_dir = Path(cfg.paths.data_dir)
    factory = None
    if cfg.hardware == "pi":
        from ..clock import RealClock
        from ..pi import build_pi_hardware

        clock: Any = RealClock()
        hw = build_pi_hardware(cfg, clock)
    else:
        from gpiozero.pins.mock import MockFactory, MockPWMPin

        from hw_sim.clock import SimClock
        from hw_sim.hardware import build_sim_hardware, drive_world
        from hw_sim.runner import default_realdata
        from hw_sim.scenario import load_scenario
        from hw_sim.scene import Scene

        scenario = load_scenario(Path(cfg.simulator.scenario))
        clock = SimClock(scenario.start_epoch)
        world = Scene(scenario, default_realdata())
        factory = MockFactory(pin_class=MockPWMPin)
        hw = build_sim_hardware(cfg, world, clock, factory, scenario.unit)
        drive_world(clock, factory, cfg, world, hw, scenario.camera_stalls)
    try:
        return Doctor(cfg, hw, clock, data_dir, settings, out=out).run()
    finally:
        hw.camera.stop()
        hw.close()
        if factory is not None:
            factory.close()
