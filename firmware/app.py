"""The firmware's main loop, the same on a unit and in the simulator.

Data flows one way: PIR (or the slow lores watch) → trigger → recorder (pre-roll from the
camera's ring buffer, post-roll, event gap, maximum length) → motion check on lores frames →
classifier → policy → clip store + event log → uplink queue.

Between events the loop waits on the clock for the PIR (a simulator's clock jumps across that
quiet time); periodic work (day/night, health, storage, uplink) runs from the same loop.
"""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from .classify.policy import FALLBACK, Decision, decide
from .clipstore import ClipStore
from .clock import Clock
from .config import Config
from .eventlog import Event, EventLog
from .hardware import Hardware, MainFrame
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
    ):
        self.cfg = cfg
        self.hw = hw
        self.clock = clock
        self.data_dir = Path(data_dir)
        self.store = ClipStore(self.data_dir)
        self.events = EventLog(self.data_dir / "events.db")
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
        self.store.recover()
        self.update_daynight()
        self.hw.camera.start()

    def close(self) -> None:
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
        self.update_daynight()
        for task in self.periodic:
            task(self.clock.now())
        if self.uplink is not None:
            self.uplink.tick()

    def wait_for_trigger(self) -> tuple[str | None, float]:
        """Block (on the clock) until the PIR fires or the slow lores watch sees motion."""
        cfg = self.cfg.trigger
        watch = cfg.source in ("motion", "either") and cfg.watch_interval_s > 0
        use_pir = cfg.source in ("pir", "either") and self.hw.pir is not None
        self._run_periodic()
        timeout = min(HOUSEKEEPING_S, cfg.watch_interval_s) if watch else HOUSEKEEPING_S
        fired = self.clock.wait(self.wake, timeout)
        if self.stop_requested.is_set():
            return None, 0.0
        if fired and self.hw.pir is not None:
            t = self.hw.pir.take()
            if t is not None and use_pir:
                return "pir", t
        if watch:
            result = self.motion.check(self.hw.camera.capture_lores().luma)
            if result.boxes:
                return "motion", self.clock.now()
        return None, 0.0

    # --- day / night ------------------------------------------------------------------------
    def update_daynight(self) -> None:
        ill, light = self.hw.illumination, self.hw.light
        if ill is None or light is None:
            return
        lux = light.lux()
        cfg = self.cfg.illumination
        if not ill.night and lux < cfg.dark_lux:
            ill.set_night(True)
        elif ill.night and lux > cfg.light_lux:
            ill.set_night(False)

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
        cam, pir, ill = self.hw.camera, self.hw.pir, self.hw.illumination
        self.stats.triggers += 1
        self.stats.by_source[source] = self.stats.by_source.get(source, 0) + 1
        ev = self._new_event(source, trigger_time)
        tmp = self.store.temp_clip(ev.id)
        cam.open_clip(tmp)
        opened = self.clock.monotonic()
        if ill is not None and ill.night:
            ill.set_leds(True)  # resets the motion background through on_switch
        self.motion.reset("event start")
        em = EventMotion(self.cfg.motion)
        samples: list[_Sample] = [ _Sample(0.0, cam.capture_main(), []) ]
        last_activity = opened
        step = 1.0 / rc.check_fps
        quiet_limit = max(rc.post_roll_s, rc.event_gap_s)
        end_reason = "quiet"
        while True:
            self.clock.sleep(step)
            now = self.clock.monotonic()
            frame = cam.capture_lores()
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
        if ill is not None:
            ill.set_leds(False)
        if pir is not None:
            pir.take()  # edges during the event belong to it
        ev.end = self.clock.now()
        ev.start = ev.end - (info.last_frame_us - info.first_frame_us) / 1e6
        self._finish(ev, em, samples, tmp, end_reason)
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
        d = decide(verdict, confirmed, motion_reason, self.cfg.policy)
        ev.model = d.model or FALLBACK
        ev.decision = d.decision
        ev.reason = d.reason + ("" if end_reason != "max_clip" else "; cut at max_clip_s")
        kept = d.decision == "kept"
        best = samples[0].frame.rgb
        if kept:
            ev.clip, ev.clip_bytes = self.store.commit_clip(tmp, ev.id, ev.start)
        else:
            self.store.drop_clip(tmp)
        ev.thumb = self.store.write_thumbnail(best, ev.id, ev.start, kept)
        ev.status = "done"
        self.events.update(ev)
        self.stats.events += 1
        if kept:
            self.stats.kept += 1
        else:
            self.stats.discarded += 1
        log.info("event %s %s: %s", ev.id, ev.decision, ev.reason)
        if self.uplink is not None:
            self.uplink.event(ev, d.alert)  # every event counts in the daily summary; kept ones are sent
        if self.on_event is not None:
            self.on_event(ev)
