"""The field-unit parts bundled for the main loop: systemd notify + frame-fed watchdog, storage
guard, health (battery, low-battery mode, daily health photo), day/night.

The main loop (firmware/app.py) calls, in this order:
    fu = FieldUnit(cfg, hw, clock, data_dir, self.events)   # in Firmware.__init__
    fu.started()            # after camera.start(): READY=1, finish interrupted deletions
    fu.frame()              # each time the camera hands over a frame (lores or main)
    fu.tick()               # every loop turn (idle and during events): maybe WATCHDOG=1
    fu.before_clip()        # before camera.open_clip(): make room (never refuses)
    fu.recording(True/False)  # event starts / ends: IR LEDs only while recording at night
    fu.periodic()           # from the idle housekeeping: day/night, health, storage, photo;
                            # returns a new HealthReport (fu.snapshot(r) goes to the uplink)
    fu.shutdown_requested   # True below health.critical_v: finish the clip, stop, exit 75
    fu.optional_uplinks_allowed  # False in low-battery mode: no optional uplinks / thumbnails
    fu.stopping()           # on the way out: STOPPING=1
An idle loop must wake at least every `fu.wait_timeout()` seconds and grab one lores frame
(feeding `fu.frame()`), or the watchdog pings stop and systemd restarts the service.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Mapping

from ..clock import Clock
from ..eventlog import EventLog
from .daynight import DayNight
from .health import DailyPhoto, Health, HealthReport
from .notify import Notifier, Watchdog, watchdog_interval
from .storage import DiskUsage, StorageGuard, real_disk

log = logging.getLogger(__name__)

LOW_BATTERY_EXIT = 75  # the unit file's RestartPreventExitStatus / ExecStopPost poweroff
MIN_WAIT_S = 0.5  # shortest idle wait, so a loop whose camera has stalled does not spin
CLOCK_SANE_EPOCH = 1_704_067_200  # 2024-01-01 UTC: a clock before this has no RTC and no NTP yet


class FieldUnit:
    def __init__(self, cfg: Any, hw: Any, clock: Clock, data_dir: Path, events: EventLog,
                 env: Mapping[str, str] | None = None, disk: Any = None):
        self.cfg = cfg
        self.hw = hw
        self.clock = clock
        self.notifier = Notifier(env)
        self.watchdog = Watchdog(self.notifier, clock, watchdog_interval(env))
        disk = disk or hw.disk or real_disk(Path(data_dir))
        self.storage = StorageGuard(data_dir, events, cfg.storage, clock, cfg.policy.target_class, disk,
                                    target_doubt=cfg.policy.target_doubt)
        self.health = Health(cfg.health, clock, disk, battery=hw.battery, thermometer=hw.thermometer,
                             camera_fps=hw.camera.frame_rate)
        self.photo = (DailyPhoto(cfg.health.photo_time, cfg.device.timezone, clock, data_dir)
                      if cfg.health.photo_time else None)
        self.daynight = (DayNight.from_config(cfg.illumination, hw.light, hw.illumination, clock)
                         if hw.light is not None and hw.illumination is not None else None)
        self.last_health: HealthReport | None = None

    # --- life cycle -------------------------------------------------------------------------
    def started(self) -> None:
        for d in self.storage.recover():
            log.warning("finished an interrupted deletion: %s", d.path)
        if self.daynight is not None:
            self.daynight.update(force=True)
        self.notifier.ready("camera up, armed")

    def stopping(self) -> None:
        self.notifier.stopping()

    # --- frames and watchdog ----------------------------------------------------------------
    def frame(self) -> None:
        # health reads the camera's own frame rate (Camera.frame_rate), not this per-frame call
        self.watchdog.frame()

    def tick(self) -> None:
        self.watchdog.tick()

    def wait_timeout(self, default: float) -> float:
        """How long an idle loop may wait: `default`, or less when a watchdog ping is due (never
        under MIN_WAIT_S, so a loop whose camera has stalled does not spin)."""
        due = self.watchdog.due_in()
        return default if due is None else min(default, max(MIN_WAIT_S, due))

    # --- events -----------------------------------------------------------------------------
    def before_clip(self, need_bytes: int = 0) -> None:
        res = self.storage.enforce(need_bytes=need_bytes)
        if not res.ok:
            log.error("storage: still %d bytes short after deleting all that may go", res.short_by)

    def recording(self, on: bool) -> None:
        if self.daynight is not None:
            self.daynight.recording(on)

    # --- periodic work ----------------------------------------------------------------------
    def periodic(self) -> HealthReport | None:
        """Day/night, health, storage and the daily photo; returns a new health report when one
        was taken (the loop hands it to the uplink), else None."""
        if self.daynight is not None:
            self.daynight.update()
        report = None
        if self.health.due():
            report = self.last_health = self.health.check()
            self.notifier.status(_status_line(report))
        if self.storage.due():
            self.storage.enforce()
        if self.photo is not None and self.photo.due():
            try:
                log.info("daily health photo %s", self.photo.take(self.hw.camera))
            except TimeoutError as err:
                log.error("daily health photo: %s", err)  # the health report says camera fault
        return report

    def snapshot(self, report: HealthReport) -> dict[str, Any]:
        """A health report as the uplink sends it (MQTT status JSON; the LoRa health payload)."""
        d = report.as_dict()
        total = report.disk_total_mb or 1.0
        d.update(
            temperature_c=report.cpu_c,
            disk_free_pct=100.0 * report.disk_free_mb / total,
            uptime_s=report.uptime_s if report.uptime_s is not None else report.run_s,
            low_battery=report.battery_state != "ok",
            disk_low=report.disk_free_mb < self.cfg.storage.min_free_mb,
            camera_fault=report.fps == 0.0,
            clock_unsynced=report.ts < CLOCK_SANE_EPOCH,
        )
        return d

    @property
    def shutdown_requested(self) -> bool:
        return self.health.battery_state.shutdown_requested

    @property
    def optional_uplinks_allowed(self) -> bool:
        return self.health.battery_state.optional_uplinks_allowed


def _status_line(r: HealthReport) -> str:
    bat = f"{r.battery_v:.2f} V {r.battery_state}" if r.battery_v is not None else "battery n/a"
    cpu = f"{r.cpu_c:.0f}°C" if r.cpu_c is not None else "cpu n/a"
    return f"{bat}, {cpu}, {r.disk_free_mb:.0f} MB free, {r.fps:.1f} fps"


__all__ = ["FieldUnit", "LOW_BATTERY_EXIT", "DiskUsage"]
