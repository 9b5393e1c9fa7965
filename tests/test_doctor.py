"""`trailcam doctor` against the simulator, a real mosquitto broker (TLS, password) and the
LoRaWAN modem simulator on a real pseudo-terminal."""
from __future__ import annotations

import os
import tty
from pathlib import Path

import cv2
import pytest

from firmware.fieldunit.doctor import FAIL_MARK, OK_MARK, SKIP_MARK, DoctorSettings, check_modem, run_doctor
from hw_sim.modem import ModemSim
from hw_sim.runner import sim_config
from hw_sim.scenario import load_scenario
from mqtt_broker import USER, broker, free_port, tls_material  # noqa: F401

REPO = Path(__file__).resolve().parent.parent
SCENARIO = REPO / "hw_sim" / "scenarios" / "night_leopard.toml"
REALDATA = REPO.parent / "shared" / "realdata"  # as in conftest.py
pytestmark = pytest.mark.skipif(not REALDATA.is_dir(),
                                reason=f"real media folder {REALDATA} absent: the scenario's sprites come from it")


def _cfg(out: Path, uplink: dict | None = None):
    scenario = load_scenario(SCENARIO)
    return sim_config(SCENARIO, scenario.config, out, {"uplink": uplink} if uplink else None)


def _line(lines: list[str], name: str) -> str:
    hits = [ln for ln in lines if ln[2:].startswith(name)]
    assert hits, f"no {name} line in {lines}"
    return hits[0]


def test_doctor_all_green_on_the_simulator(tmp_path, broker, tls_material):  # noqa: F811
    modem = ModemSim(join_delay_s=(0.2, 0.3))
    try:
        cfg = _cfg(tmp_path / "data", {
            "enabled": True,
            "mqtt": {"enabled": True, "host": "127.0.0.1", "port": broker.port, "tls": True,
                     "ca_file": str(tls_material.ca), "cert_file": str(tls_material.client_cert),
                     "key_file": str(tls_material.client_key), "username": USER,
                     "password_file": str(tls_material.password_file)},
            "lora": {"enabled": True, "port": modem.port},
        })
        (tmp_path / "data").mkdir()
        lines: list[str] = []
        photo = tmp_path / "aim.jpg"
        # the scenario's first PIR firing is at 240 s: a 300 s walk test sees it
        rc = run_doctor(cfg, DoctorSettings(walk_s=300, photo=photo, min_free_mb=1), out=lines.append)
    finally:
        modem.close()
    text = "\n".join(lines)
    assert rc == 0, text
    for name in ("camera", "pir", "light", "clock", "disk", "modem", "broker"):
        assert _line(lines, name).startswith(OK_MARK), text
    assert _line(lines, "battery").startswith(OK_MARK) or _line(lines, "battery").startswith(SKIP_MARK)
    img = cv2.imread(str(photo))
    assert img is not None and img.shape[:2] == (360, 640)
    assert "trigger(s)" in _line(lines, "pir") and "joined" in _line(lines, "modem")
    assert modem.joins >= 0 and "AT" in modem.commands
    assert "8 of 8 checks passed" in text


def test_doctor_reports_what_to_do(tmp_path):
    # a broker that is not there, a modem that does not answer, a walk test with nobody walking
    master, slave = os.openpty()
    tty.setraw(slave)
    try:
        cfg = _cfg(tmp_path / "data", {
            "enabled": True,
            "mqtt": {"enabled": True, "host": "127.0.0.1", "port": free_port(), "tls": False},
            "lora": {"enabled": True, "port": os.ttyname(slave), "command_timeout_s": 0.5},
        })
        lines: list[str] = []
        rc = run_doctor(cfg, DoctorSettings(walk_s=30, broker_timeout_s=2, min_free_mb=10**9),
                        out=lines.append)
    finally:
        os.close(master)
        os.close(slave)
    text = "\n".join(lines)
    assert rc == 1
    assert _line(lines, "pir").startswith(FAIL_MARK) and "warm up" in text
    assert _line(lines, "modem").startswith(FAIL_MARK) and "do_serial_hw" in text
    assert _line(lines, "broker").startswith(FAIL_MARK) and "mosquitto_pub" in text
    assert _line(lines, "camera").startswith(OK_MARK)
    assert _line(lines, "disk").startswith(FAIL_MARK) and "larger SD card" in text
    assert "fix: pir, disk, modem, broker" in text


def test_modem_join_failure_is_reported():
    modem = ModemSim(join_delay_s=(0.1, 0.2), coverage=lambda sf: False)
    try:
        import serial

        from firmware.uplink.at_modem import DIALECTS, ModemLink

        with serial.Serial(modem.port, 115200, timeout=0.1) as ser:
            r = check_modem(ModemLink(ser, DIALECTS["rak3172"]()), 1.0, 8.0, modem.port)
    finally:
        modem.close()
    assert r.ok is False and ("join" in r.detail), r


def test_cli_parser_has_doctor():
    import argparse

    from firmware.fieldunit.doctor import add_doctor_parser

    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="command")
    add_doctor_parser(sub)
    args = p.parse_args(["doctor", "--config", "x.toml", "--walk-seconds", "5"])
    assert args.walk_seconds == 5 and args.config == "x.toml" and callable(args.func)
