"""`trailcam sim SCENARIO`: the firmware against the simulated world, on a simulated clock.

Builds the world from the scenario, the hardware from simulator parts, the firmware exactly as a
unit builds it, runs it for the scenario's duration, and writes a report whose events carry the
scenario's ground truth, so every run measures itself.
"""
from __future__ import annotations

import json
import logging
import resource
import time
from pathlib import Path
from typing import Any, Callable

from firmware.clock import iso
from firmware.config import Config, parse_config
from firmware.eventlog import Event

from .clock import SimClock
from .hardware import build_sim_hardware, drive_world

log = logging.getLogger(__name__)

# What a bench unit looks like unless the scenario says otherwise: smaller frames than a unit
# records (1920x1080 at 30 fps) so a simulated day encodes in seconds.
SIM_DEFAULTS: dict[str, Any] = {
    "hardware": "sim",
    "camera": {"main_size": [640, 360], "lores_size": [320, 240], "fps": 10, "bitrate": 1_000_000},
}


def deep_merge(base: dict, over: dict) -> dict:
    out = dict(base)
    for k, v in over.items():
        out[k] = deep_merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def sim_config(scenario_path: Path, scenario_config: dict, out_dir: Path,
               overrides: dict | None = None) -> Config:
    data = deep_merge(SIM_DEFAULTS, scenario_config)
    data = deep_merge(data, overrides or {})
    data = deep_merge(data, {"paths": {"data_dir": str(out_dir)},
                             "simulator": {"scenario": str(scenario_path)}})
    return parse_config(data, "scenario [config]")


def default_realdata() -> Path | None:
    here = Path(__file__).resolve().parent.parent.parent / "shared" / "realdata"
    return here if here.is_dir() else None


def run_scenario(
    scenario_path: Path,
    out_dir: Path,
    report_path: Path | None = None,
    realdata: Path | None = None,
    overrides: dict | None = None,
    build_extras: Callable[..., dict] | None = None,
) -> dict:
    from gpiozero.pins.mock import MockFactory, MockPWMPin

    from firmware.app import Firmware

    from .scenario import load_scenario
    from .scene import Scene

    wall0 = time.perf_counter()
    scenario = load_scenario(Path(scenario_path))
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    cfg = sim_config(Path(scenario_path), scenario.config, out_dir, overrides)
    realdata = realdata if realdata is not None else default_realdata()
    world = Scene(scenario, realdata)
    clock = SimClock(scenario.start_epoch)
    factory = MockFactory(pin_class=MockPWMPin)
    hw = build_sim_hardware(cfg, world, clock, factory, scenario.unit)
    drive_world(clock, factory, cfg, world, hw, scenario.camera_stalls)
    extras = build_extras(cfg=cfg, scenario=scenario, clock=clock, out_dir=out_dir) if build_extras else {}
    fw = Firmware(cfg, hw, clock, out_dir, **extras)
    clock.call_at(scenario.duration_s, fw.request_stop)
    uplink = extras.get("uplink")
    try:
        stats = fw.run()
        if uplink is not None:
            # the scenario's end: let the uplink use coverage that is up now, as a unit would
            uplink.tick()
        events = list(_events(out_dir))
        report = build_report(scenario, cfg, events, world, clock,
                              time.perf_counter() - wall0, stats.triggers, uplink=uplink)
        report["unit"] = unit_report(fw, hw, world, scenario, cfg, events, report["events"], out_dir)
    finally:
        if uplink is not None:
            uplink.close()
        hw.close()
        factory.close()
    if report_path is not None:
        Path(report_path).parent.mkdir(parents=True, exist_ok=True)
        Path(report_path).write_text(json.dumps(report, indent=2))
    return report


def _events(out_dir: Path) -> list[Event]:
    from firmware.eventlog import EventLog

    log_ = EventLog(out_dir / "events.db")
    try:
        return list(log_.all())
    finally:
        log_.close()


def unit_report(fw: Any, hw: Any, world: Any, scenario: Any, cfg: Config, events: list[Event],
                rows: list[dict], out_dir: Path) -> dict:
    """The field unit's side of a run: the card, the storage guard, the camera, the battery."""
    from firmware.fieldunit.storage import MB, deleted_parts

    # the target's events by ground truth (the report rows carry it): what the scenario put there
    by_id = {e.id: e for e in events}
    target = [by_id[r["id"]] for r in rows if r["decision"] == "kept" and r["truth"] == cfg.policy.target_class]
    ons = [on for on, _off, _cause in world.pir_windows() if on < scenario.duration_s]
    spans = [(e.start - scenario.start_epoch - 0.5, (e.end or e.start) - scenario.start_epoch + 0.5)
             for e in events]
    missed = sum(1 for on in ons if not any(a <= on <= b for a, b in spans))
    health = fw.fu.last_health
    return {
        "disk_mb": scenario.unit.disk_mb,
        "disk_free_mb_end": round(hw.disk().free / MB, 1) if hw.disk is not None else None,
        "storage_deletions": fw.fu.storage.deletions_total,
        "clips_deleted": sum("clip" in deleted_parts(e) for e in events),
        "target_clips_kept": sum(1 for e in target if e.clip and "clip" not in deleted_parts(e)
                                 and (out_dir / e.clip).is_file()),
        "target_clips_deleted": sum("clip" in deleted_parts(e) for e in target),
        "pir_windows": len(ons),
        "pir_windows_missed": missed,  # PIR firings no event covers: capture stopped
        "camera_timeouts": fw.stats.camera_timeouts,
        "health_photos": len(list((out_dir / "health").glob("*.jpg"))),
        "battery_v_end": health.battery_v if health is not None else None,
        "battery_state_end": health.battery_state if health is not None else None,
        "low_battery_stop": fw.low_battery_stop,
        "watchdog_pings": fw.fu.watchdog.pings,
    }


def build_report(scenario, cfg: Config, events: list[Event], world, clock: SimClock, wall: float,
                 triggers: int, uplink: Any = None) -> dict:
    target = cfg.policy.target_class
    rows = []
    for ev in events:
        t0 = ev.start - scenario.start_epoch
        t1 = (ev.end or ev.start) - scenario.start_epoch
        rows.append({
            "id": ev.id, "start": iso(ev.start), "end": iso(ev.end or ev.start),
            "trigger": ev.trigger, "label": ev.label or ("blank" if ev.decision == "discarded" else None),
            "score": ev.score, "decision": ev.decision, "reason": ev.reason, "clip": ev.clip,
            "thumb": ev.thumb, "truth": world.truth(t0, t1),
            "motion": {"frames": ev.frames_checked, "motion_frames": ev.motion_frames,
                       "max_area": round(ev.max_area, 4), "travel": round(ev.travel, 3),
                       "light_jumps": ev.light_jumps},
            "model": ev.model,
        })
    targets = [r for r in rows if r["truth"] == target]
    blanks = [r for r in rows if r["truth"] == "blank"]
    kept = sum(r["decision"] == "kept" for r in rows)
    metrics = {
        "target_events": len(targets),
        "target_recall": (sum(r["decision"] == "kept" for r in targets) / len(targets)) if targets else None,
        "false_triggers": len(blanks),
        "false_trigger_discard_rate":
            (sum(r["decision"] == "discarded" for r in blanks) / len(blanks)) if blanks else None,
        "kept": kept,
        "discarded": len(rows) - kept,
    }
    up = uplink.stats() if uplink is not None else {
        "mqtt_sent": 0, "lora_sent": 0, "lora_bytes_max": 0, "lora_airtime_s": 0.0, "queued": 0, "lost": 0}
    return {
        "scenario": scenario.name,
        "sim_seconds": round(clock.elapsed, 3),
        "wall_seconds": round(wall, 3),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "triggers": triggers,
        "events": rows,
        "metrics": metrics,
        "uplink": up,
    }


def summary_table(report: dict, out_dir: Path, report_path: Path | None) -> str:
    m = report["metrics"]
    lines = [
        f"scenario {report['scenario']}: {report['sim_seconds'] / 3600:.1f} h simulated in "
        f"{report['wall_seconds']:.1f} s wall, {report['triggers']} triggers",
        "",
        f"{'start (UTC)':<24} {'trigger':<7} {'truth':<14} {'label':<14} {'decision':<9} reason",
    ]
    for e in report["events"]:
        lines.append(f"{e['start'][:23]:<24} {e['trigger']:<7} {e['truth']:<14} {str(e['label']):<14} "
                     f"{e['decision']:<9} {e['reason']}")
    fmt = lambda v: "n/a" if v is None else f"{v:.2f}"  # noqa: E731
    lines += [
        "",
        f"target recall {fmt(m['target_recall'])} ({m['target_events']} target events)   "
        f"false-trigger discard rate {fmt(m['false_trigger_discard_rate'])} ({m['false_triggers']} false triggers)   "
        f"kept {m['kept']}, discarded {m['discarded']}",
        f"clips and thumbnails: {out_dir}/clips, {out_dir}/thumbs   event log: {out_dir}/events.db",
    ]
    u = report.get("unit")
    if u:
        card = f"{u['disk_mb']:.0f} MB card, {u['disk_free_mb_end']:.1f} MB free at the end, " if u["disk_mb"] else ""
        lines.insert(-1, f"unit: {card}{u['storage_deletions']} files deleted by value ({u['clips_deleted']} clips), "
                         f"target clips kept {u['target_clips_kept']} / deleted {u['target_clips_deleted']}, "
                         f"PIR firings missed {u['pir_windows_missed']} of {u['pir_windows']}, "
                         f"{u['health_photos']} health photos, camera timeouts {u['camera_timeouts']}")
    if report_path is not None:
        lines.append(f"report: {report_path}")
    return "\n".join(lines)
