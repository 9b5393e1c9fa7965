"""Assembles the firmware for `trailcam run` and `trailcam sim`: hardware backend, classifier,
policy, uplink. Every part is built here and passed in explicitly."""
from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Any, Callable

from .config import Config

log = logging.getLogger(__name__)


def repo_dir() -> Path:
    """Where relative paths in the config (models/) resolve: the installed checkout."""
    return Path(__file__).resolve().parent.parent


def load_classifier(cfg: Config) -> Any:
    """The classifier, or None with a logged reason: a missing or corrupt model must never stop
    the unit — it falls back to keeping every motion-confirmed event."""
    if not cfg.classifier.enabled:
        log.warning("classifier disabled in config: keeping every motion-confirmed event")
        return None
    from .classify.runtime import Classifier, ModelError

    try:
        return Classifier.load(cfg.classifier, repo_dir())
    except ModelError as err:
        log.error("no usable model (%s): keeping every motion-confirmed event", err)
        return None


def firmware_parts(cfg: Config, clock: Any, out_dir: Path, **_: Any) -> dict[str, Any]:
    """The optional parts of the firmware, built from the config (used by both entry points)."""
    return {"classifier": load_classifier(cfg)}


def sim_parts(cfg: Config, scenario: Any, clock: Any, out_dir: Path) -> dict[str, Any]:
    """`trailcam sim`: the same parts, with the uplink's transports behind the scenario's coverage."""
    from hw_sim.coverage import build_sim_uplink

    parts = firmware_parts(cfg, clock, out_dir)
    parts["uplink"] = build_sim_uplink(cfg, out_dir, clock, scenario.coverage)
    return parts


def run_service(cfg: Config, config_path: Path, install_signals: Callable | None = None) -> int:
    import signal

    from .app import Firmware

    data_dir = Path(cfg.paths.data_dir)
    if cfg.hardware == "pi":
        from .clock import RealClock
        from .pi import build_pi_hardware

        clock = RealClock()
        hw = build_pi_hardware(cfg, clock)
        factory = None
        world = None
    else:
        from gpiozero.pins.mock import MockFactory, MockPWMPin

        from hw_sim.clock import SimClock
        from hw_sim.hardware import build_sim_hardware, drive_world
        from hw_sim.scenario import load_scenario
        from hw_sim.runner import default_realdata
        from hw_sim.scene import Scene

        scenario = load_scenario(Path(cfg.simulator.scenario))
        clock = SimClock(time.time(), pace=cfg.simulator.pace)
        world = Scene(scenario, default_realdata())
        factory = MockFactory(pin_class=MockPWMPin)
        hw = build_sim_hardware(cfg, world, clock, factory, scenario.unit)
        drive_world(clock, factory, cfg, world, hw, scenario.camera_stalls)
    parts = firmware_parts(cfg=cfg, clock=clock, out_dir=data_dir)
    fw = Firmware(cfg, hw, clock, data_dir, **parts)
    if cfg.hardware == "pi":
        from .uplink.service import build_uplink

        def _swap(new_cfg: Config) -> None:
            # a remote config was validated, persisted and accepted: the loop uses it from now on
            fw.cfg = new_cfg

        fw.uplink = build_uplink(cfg, cfg.device.id, data_dir, clock, on_remote_config=_swap)

    def _stop(signum: int, _frame: Any) -> None:
        log.warning("signal %d: finishing the current clip, then stopping", signum)
        fw.request_stop()

    if install_signals is not None and threading.current_thread() is threading.main_thread():
        install_signals(signal.SIGTERM, _stop)
        install_signals(signal.SIGINT, _stop)
    try:
        fw.run()
    finally:
        if fw.uplink is not None:
            fw.uplink.close()
        hw.close()
        if factory is not None:
            factory.close()
    if fw.low_battery_stop:
        from .fieldunit.unit import LOW_BATTERY_EXIT

        return LOW_BATTERY_EXIT  # the unit file powers the board off and does not restart
    return 0
