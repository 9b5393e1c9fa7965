"""The firmware's main loop, the same on a unit and in the simulator.

Data flows one way: PIR (or the slow lores watch) → trigger → recorder (pre-roll from the
camera's ring buffer, post-roll, event gap, maximum length) → motion check on lores frames →
classifier → policy → clip store + event log → uplink queue.

Between events the loop waits on the clock for the PIR (a simulator's clock jumps across that
quiet time); periodic work (day/night, health, storage, daily photo, uplink) runs from the same
loop. The field-unit hooks (firmware/fieldunit/unit.py) keep systemd's watchdog fed only while
camera frames arrive, make room on the card before each clip, and stop the unit cleanly when the
battery is nearly flat.
"""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Mapping

from .classify.policy import FALLBACK, decide
from .clipstore import ClipStore
from .clock import Clock
from .config import Config
from .eventlog import Event, EventLog
from .fieldunit.unit import LOW_BATTERY_EXIT, FieldUnit
from .hardware import Hardware, LoresFrame, MainFrame
from .motion import EventMotion, MotionCheck, MotionResult

log = logging.getLogger(__name__)

HOUSEKEEPING_S = 30.0  # idle wake-up for periodic work when nothing triggers
MAIN_SAMPLES = 4       # full-resolution frames kept per event for the classifier and thumbnail


@dataclass
class _Sample:
    area: float
    frame: MainFrame
    boxes: list[tuple[float, float, float, float]]


@dataclass
class Stats:
    triggers: int = 0
    events: int = 0
    kept: int = 0
    discarded: int = 0
    by_source: dict[str, int] = field(default_factory=dict)
    camera_timeouts: int = 0


class Firmware:
    """Wires the hardware, the checks and the stores together and runs the loop."""

    def __init__(
        self,
        cfg: Config,
        hw: Hardware,
        clock: Clock,
        data_dir: Path,
        classifier: Any = None,
        uplink: Any = None,
        on_event: Callable[[Event], None] | None = None,
        notify_env: Mapping[str, str] | None = None,
    ):
        self.cfg = cfg
        self.hw = hw
        self.clock = clock
        self.data_dir = Path(data_dir)
        self.store = ClipStore(self.data_dir)
        self.events = EventLog(self.data_dir / "events.db")
        # systemd notify + watchdog, storage guard, health, day/night, daily photo
        self.fu = FieldUnit(cfg, hw, clock, self.data_dir, self.events, env=notify_env)
        self.motion = MotionCheck(cfg.motion)
        self.classifier = classifier  # None: no usable model, the keep-all fallback decides
        self.uplink = uplink
        self.on_event = on_event
        self.stats = Stats()
        self.stop_requested = threading.Event()
        # one event wakes the idle wait: a PIR edge or a stop request
        self.wake = hw.pir.triggered if hw.pir is not None else threading.Event()
        self.periodic: list[Callable[[float], None]] = []
        self._last_periodic = float("-inf")
        self.low_battery_stop = False  # the run ended because the battery reached critical_v
        if hw.illumination is not None:
            hw.illumination.on_switch = self._lighting_switched

    # --- life cycle -------------------------------------------------------------------------
    def request_stop(self) -> None:
        """Ask the loop to stop; an event being recorded is finished first (SIGTERM)."""
        self.stop_requested.set()
        self.wake.set()

    def start(self) -> None:
        interrupted = self.events.mark_interrupted()
        if interrupted:
            log.warning("events interrupted by a power cut or crash: %s", interrupted)
        self._finish_saving()
        self.store.recover()
        self.hw.camera.start()
        self.fu.started()  # day/night set from the light, READY=1

    def close(self) -> None:
        self.fu.stopping()
        self.hw.camera.stop()
        self.events.close()

    def run(self) -> Stats:
        self.start()
        try:
            while not self.stop_requested.is_set():
                source, t = self.wait_for_trigger()
                if source is not None:
                    self.record_event(source, t)
        finally:
            self.close()
        return self.stats

    # --- idle -------------------------------------------------------------------------------
    def _run_periodic(self, force: bool = False) -> None:
        now = self.clock.monotonic()
        if not force and now - self._last_periodic < HOUSEKEEPING_S:
            return
        self._last_periodic = now
        report = self.fu.periodic()
        if self.fu.shutdown_requested and not self.stop_requested.is_set():
            log.critical("battery below health.critical_v: stopping cleanly (exit %d)", LOW_BATTERY_EXIT)
            self.low_battery_stop = True
            self.request_stop()
        for task in self.periodic:
            task(self.clock.now())
        if self.uplink is not None:
            self.uplink.set_low_power(not self.fu.optional_uplinks_allowed)
            if report is not None:
                self.uplink.health(self.fu.snapshot(report))
            self.uplink.tick()

    def _lores(self) -> LoresFrame | None:
        """A lores frame, or None when the camera delivered none in time (stalled)."""
        try:
            frame = self.hw.camera.capture_lores()
        except TimeoutError as err:
            self.stats.camera_timeouts += 1
            if self.stats.camera_timeouts == 1 or self.stats.camera_timeouts % 100 == 0:
                log.error("camera: %s (%d times); the watchdog pings stop until frames flow",
                          err, self.stats.camera_timeouts)
            return None
        self.fu.frame()
        return frame

    def wait_for_trigger(self) -> tuple[str | None, float]:
        """Block (on the clock) until the PIR fires or the slow lores watch sees motion."""
        cfg = self.cfg.trigger
        watch = cfg.source in ("motion", "either") and cfg.watch_interval_s > 0
        use_pir = cfg.source in ("pir", "either") and self.hw.pir is not None
        self._run_periodic()
        timeout = min(HOUSEKEEPING_S, cfg.watch_interval_s) if watch else HOUSEKEEPING_S
        fired = self.clock.wait(self.wake, self.fu.wait_timeout(timeout))
        if self.stop_requested.is_set():
            return None, 0.0
        frame = self._lores() if watch or self.fu.watchdog.enabled else None
        self.fu.tick()  # WATCHDOG=1 only while frames flow
        if fired and self.hw.pir is not None:
            t = self.hw.pir.take()
            if t is not None and use_pir:
                return "pir", t
        if watch and frame is not None:
            result = self.motion.check(frame.luma)
            if result.boxes:
                return "motion", self.clock.now()
        return None, 0.0

    # --- day / night ------------------------------------------------------------------------
    def _lighting_switched(self, what: str) -> None:
        self.motion.reset(f"firmware switched {what}")

    # --- one event --------------------------------------------------------------------------
    def _new_event(self, source: str, trigger_time: float) -> Event:
        seq = self.events.next_seq()
        stamp = datetime.fromtimestamp(trigger_time, tz=timezone.utc).strftime("%Y%m%dT%H%M%SZ")
        ev = Event(id=f"{self.cfg.device.id}-{stamp}-{seq:05d}", seq=seq,
                   start=trigger_time - self.cfg.recorder.pre_roll_s,
                   trigger=source, trigger_time=trigger_time)
        self.events.insert(ev)
        return ev

    def record_event(self, source: str, trigger_time: float) -> Event:
        rc = self.cfg.recorder
        cam, pir = self.hw.camera, self.hw.pir
        self.stats.triggers += 1
        self.stats.by_source[source] = self.stats.by_source.get(source, 0) + 1
        # room for the longest clip first: the guard deletes by value and never refuses
        self.fu.before_clip(need_bytes=int(rc.max_clip_s * self.cfg.camera.bitrate / 8))
        ev = self._new_event(source, trigger_time)
        tmp = self.store.temp_clip(ev.id)
        try:
            cam.open_clip(tmp)
        except TimeoutError as err:
            return self._abandon(ev, tmp, err)
        try:
            first = cam.capture_main()
        except TimeoutError as err:
            cam.close_clip()
            return self._abandon(ev, tmp, err)
        opened = self.clock.monotonic()
        self.fu.recording(True)  # IR LEDs at night; a switch resets the motion background
        self.motion.reset("event start")
        em = EventMotion(self.cfg.motion)
        samples: list[_Sample] = [_Sample(0.0, first, [])]
        last_activity = opened
        step = 1.0 / rc.check_fps
        quiet_limit = max(rc.post_roll_s, rc.event_gap_s)
        end_reason = "quiet"
        while True:
            self.clock.sleep(step)
            now = self.clock.monotonic()
            frame = self._lores()
            self.fu.tick()
            if frame is not None:
                result = self.motion.check(frame.luma)
                em.add(result, now)
                if result.boxes:
                    last_activity = now
                    self._keep_sample(samples, result)
            if pir is not None and (pir.is_active or pir.take() is not None):
                last_activity = now  # a re-trigger extends the event
            if now - opened + rc.pre_roll_s >= rc.max_clip_s:
                end_reason = "max_clip"
                break
            if now - last_activity >= quiet_limit:
                break
            if self.stop_requested.is_set() and now - last_activity >= rc.post_roll_s:
                end_reason = "stop"
                break
        info = cam.close_clip()
        self.fu.recording(False)
        if pir is not None:
            pir.take()  # edges during the event belong to it
        ev.end = self.clock.now()
        ev.start = ev.end - (info.last_frame_us - info.first_frame_us) / 1e6
        self._finish(ev, em, samples, tmp, end_reason)
        return ev

    def _abandon(self, ev: Event, tmp: Path, err: Exception) -> Event:
        """The camera stalled as the event opened: no clip can be made. The row says so; the
        watchdog pings have stopped, so systemd restarts the service."""
        self.stats.camera_timeouts += 1
        log.error("event %s: camera delivered no frames (%s)", ev.id, err)
        self.store.drop_clip(tmp)
        ev.status, ev.decision, ev.reason = "interrupted", "discarded", f"camera stalled: {err}"
        self.events.update(ev)
        return ev

    def _keep_sample(self, samples: list[_Sample], result: MotionResult) -> None:
        area = result.largest_area
        if len(samples) >= MAIN_SAMPLES and area <= min(s.area for s in samples):
            return
        samples.append(_Sample(area, self.hw.camera.capture_main(), list(result.boxes)))
        samples.sort(key=lambda s: -s.area)
        del samples[MAIN_SAMPLES:]

    def classify(self, samples: list[_Sample]) -> Any:
        """The classifier's verdict on the event's best frames, or None (fallback) without a
        usable model. Every event is classified, motion-confirmed or not: a leopard the motion
        check missed must still be able to pass the policy's doubt rule."""
        if self.classifier is None:
            return None
        from .classify.runtime import ModelError

        with_boxes = [(s.frame.rgb, s.boxes) for s in samples if s.boxes]
        try:
            return self.classifier.classify_event(with_boxes or [(samples[0].frame.rgb, [])])
        except (ModelError, ValueError, RuntimeError) as err:
            log.error("classifier failed, keeping motion-confirmed events from now on: %s", err)
            self.classifier = None
            return None

    def _finish(self, ev: Event, em: EventMotion, samples: list[_Sample], tmp: Path, end_reason: str) -> None:
        confirmed, motion_reason = em.confirmed()
        ev.frames_checked, ev.motion_frames = em.frames, em.motion_frames
        ev.light_jumps, ev.max_area, ev.travel = em.light_jumps, em.max_area, em.travel
        ev.best_box = list(em.best_box) if em.best_box else None
        verdict = self.classify(samples)
        if verdict is not None:
            ev.label, ev.score, ev.scores = verdict.label, verdict.score, dict(verdict.scores)
        d = decide(verdict, confirmed, motion_reason, self.cfg.policy, em.travel)
        ev.model = d.model or FALLBACK
        ev.decision, ev.alert = d.decision, d.alert
        ev.reason = d.reason + ("" if end_reason != "max_clip" else "; cut at max_clip_s")
        kept = d.decision == "kept"
        # write-ahead: the row names the final paths before the files move there (status
        # `saving`), so a power cut in between leaves no file that no row names
        clip = self.store.clip_path(ev.id, ev.start) if kept else None
        thumb = self.store.thumb_path(ev.id, ev.start, kept)
        ev.clip = self.store.rel(clip) if clip is not None else None
        ev.clip_bytes = tmp.stat().st_size if clip is not None else 0
        ev.thumb = self.store.rel(thumb)
        ev.status = "saving"
        self.events.update(ev)
        if clip is not None:
            self.store.commit_clip(tmp, clip)
        else:
            self.store.drop_clip(tmp)
        self.store.write_thumbnail(samples[0].frame.rgb, thumb, kept)
        self._done(ev)
        self.stats.events += 1
        if kept:
            self.stats.kept += 1
        else:
            self.stats.discarded += 1
        log.info("event %s %s: %s", ev.id, ev.decision, ev.reason)
        if self.on_event is not None:
            self.on_event(ev)

    def _done(self, ev: Event) -> None:
        # the uplink takes each event once (by its sequence number), so handing it over again
        # after a power cut between these two lines neither loses nor doubles it
        if self.uplink is not None:
            self.uplink.event(ev, ev.alert)  # every event counts in the daily summary; kept ones are sent
        ev.status = "done"
        self.events.update(ev)

    def _finish_saving(self) -> None:
        """At start-up: finish events a power cut caught while their files were being saved."""
        for ev in self.events.saving():
            notes = []
            if ev.clip is not None and not self.store.finish_commit(ev.id, self.data_dir / ev.clip):
                notes.append("clip lost in a power cut while saving")
                ev.clip, ev.clip_bytes = None, 0
            if ev.thumb is not None and not (self.data_dir / ev.thumb).is_file():
                ev.thumb = None  # thumbnails are written atomically: whole or absent
            if notes:
                ev.reason = f"{ev.reason}; {'; '.join(notes)}"
            log.warning("finished saving event %s after a power cut%s", ev.id, f" ({notes[0]})" if notes else "")
            self._done(ev)
