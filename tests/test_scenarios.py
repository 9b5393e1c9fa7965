"""Whole scenarios through `trailcam sim`: the report measures itself against the scenario's truth."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import av
import pytest

from conftest import REALDATA
from firmware.eventlog import EventLog

REPO = Path(__file__).resolve().parent.parent
SCENARIOS = REPO / "hw_sim" / "scenarios"


@pytest.fixture(scope="module")
def night(tmp_path_factory):
    out = tmp_path_factory.mktemp("night")
    report = out / "report.json"
    r = subprocess.run([sys.executable, "-m", "firmware.cli", "sim", str(SCENARIOS / "night_leopard.toml"),
                        "--out", str(out), "--report", str(report)], capture_output=True, text=True, cwd=REPO)
    assert r.returncode == 0, r.stderr
    assert "target recall" in r.stdout  # the summary table
    return out, json.loads(report.read_text())


NEEDS_REALDATA = pytest.mark.skipif(
    not REALDATA.is_dir(),
    reason=f"the scenario's animals are cut from real photos at {REALDATA} (absent: drawn silhouettes, "
           "which the real classifier does not recognise)")


def test_night_leopard_report_contract(night):
    out, rep = night
    for key in ("scenario", "sim_seconds", "wall_seconds", "triggers", "events", "metrics", "uplink"):
        assert key in rep
    assert rep["sim_seconds"] == pytest.approx(3600, abs=60)
    m = rep["metrics"]
    assert m["kept"] + m["discarded"] == len(rep["events"]) == rep["triggers"]
    assert m["false_trigger_discard_rate"] >= 0.9
    for e in rep["events"]:
        assert e["truth"] and e["decision"] in ("kept", "discarded") and e["reason"]
        assert (e["clip"] is None) == (e["decision"] == "discarded")


@NEEDS_REALDATA
def test_night_leopard_is_kept(night):
    _, rep = night
    assert rep["metrics"]["target_recall"] == 1.0


@NEEDS_REALDATA
def test_night_leopard_clip_has_the_pre_roll(night):
    out, rep = night
    (leo,) = [e for e in rep["events"] if e["truth"] == "amur_leopard"]
    ev = EventLog(out / "events.db").get(leo["id"])
    assert ev.trigger_time - ev.start >= 3.0 - 0.1 - 1e-6  # within one frame at 10 fps
    with av.open(str(out / ev.clip)) as c:
        n = sum(1 for _ in c.decode(video=0))
    assert n >= 10 * (ev.end - ev.start) - 2


@NEEDS_REALDATA
def test_night_leopard_is_labelled_by_the_real_model(night):
    _, rep = night
    (leo,) = [e for e in rep["events"] if e["truth"] == "amur_leopard"]
    assert leo["decision"] == "kept"
    assert leo["model"] != "fallback"  # kept by the classifier, not by the keep-all fallback
    assert leo["label"] == "amur_leopard"


def test_run_service_stops_on_sigterm_with_the_clip_finished(tmp_path):
    cfg = tmp_path / "unit.toml"
    cfg.write_text(f'hardware = "sim"\n[paths]\ndata_dir = "{tmp_path / "data"}"\n'
                   f'[simulator]\nscenario = "{SCENARIOS / "night_leopard.toml"}"\npace = 200\n'
                   f'[camera]\nmain_size = [640, 360]\nfps = 10\n')
    child = subprocess.Popen([sys.executable, "-m", "firmware.cli", "run", "--config", str(cfg)], cwd=REPO,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    partial = tmp_path / "data" / "partial"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not (partial.is_dir() and any(partial.iterdir())):
        assert child.poll() is None, child.stderr.read()
        time.sleep(0.01)
    assert partial.is_dir() and any(partial.iterdir()), "no event started recording"
    os.kill(child.pid, signal.SIGTERM)
    _, err = child.communicate(timeout=60)
    assert child.returncode == 0, err
    events = list(EventLog(tmp_path / "data" / "events.db").all())
    assert events and all(e.status == "done" for e in events)
    assert not any(partial.iterdir())
