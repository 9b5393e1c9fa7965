"""The installer's dry run and the systemd unit."""
from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
INSTALL = REPO / "deploy" / "install.sh"
UNIT = REPO / "deploy" / "trailcam.service"


def _dry_run(*extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(INSTALL), "--dry-run", *extra], capture_output=True,
                          text=True, timeout=120, cwd="/")


def test_dry_run_prints_a_complete_plan_and_changes_nothing():
    before = {p: p.exists() for p in (Path("/etc/trailcam"), Path("/opt/trailcam"),
                                      Path("/etc/systemd/system/trailcam.service"))}
    r = _dry_run()
    assert r.returncode == 0, r.stderr
    out = r.stdout
    steps = re.findall(r"^\[\d+\] (.+)$", out, re.M)
    for needle in ("platform", "apt packages", "service user", "folders", "virtual environment",
                   "package trailcam[pi]", "configuration /etc/trailcam/config.toml", "credentials",
                   "interfaces", "hardware watchdog", "systemd unit"):
        assert any(needle in s for s in steps), f"no step about {needle!r} in the plan"
    # every apt package the unit needs is named, and the venv sees apt's picamera2
    for pkg in ("python3-picamera2", "python3-venv", "mosquitto-clients"):
        assert pkg in out
    assert "--system-site-packages" in out
    assert "[pi]" in out
    # each step either says it is fine (=), notes something (!) or shows the command (+)
    body = [ln for ln in out.splitlines() if ln.startswith("    ")]
    assert body and all(ln[4] in "=+!" for ln in body), body
    assert "nothing was changed" in out
    after = {p: p.exists() for p in before}
    assert before == after


def test_dry_run_is_repeatable():
    first, second = _dry_run(), _dry_run()
    assert first.returncode == second.returncode == 0
    assert first.stdout == second.stdout


def test_dry_run_with_hardware_watchdog_and_bad_option():
    r = _dry_run("--hw-watchdog")
    assert r.returncode == 0 and "RuntimeWatchdogSec=15" in r.stdout
    bad = subprocess.run(["bash", str(INSTALL), "--frobnicate"], capture_output=True, text=True)
    assert bad.returncode == 2 and "unknown option" in bad.stderr


def test_config_needs_interfaces(tmp_path):
    """The installer enables SPI for an MCP3008, I2C for an INA219 and the UART for LoRa."""
    script = INSTALL.read_text()
    fn = script[script.index("config_needs() {"):script.index("\n}\n", script.index("config_needs() {")) + 3]
    cfg = tmp_path / "c.toml"
    cases = {
        "": "camera",
        '[health]\nbattery = "mcp3008"\n': "camera spi",
        '[health]\nbattery = "ina219"\n[uplink]\nenabled = true\n[uplink.lora]\nenabled = true\n':
            "camera i2c serial",
    }
    for text, want in cases.items():
        cfg.write_text(text)
        r = subprocess.run(["bash", "-c", fn + f'\nconfig_needs "{cfg}"'], capture_output=True, text=True)
        assert r.stdout.strip() == want, (text, r.stdout, r.stderr)


def test_unit_file_has_the_required_settings():
    text = UNIT.read_text()
    for line in ("Type=notify", "WatchdogSec=30", "Restart=always", "StartLimitIntervalSec=",
                 "StartLimitBurst=", "NoNewPrivileges=yes", "ProtectSystem=strict",
                 "ReadWritePaths=/var/lib/trailcam /etc/trailcam", "ProtectHome=yes",
                 "PrivateTmp=yes", "User=trailcam", "SupplementaryGroups=video gpio i2c spi dialout",
                 "LoadCredential=mqtt-password:"):
        assert line in text, line
    assert "User=root" not in text


def _verify(tmp_path: Path, text: str) -> subprocess.CompletedProcess:
    unit = tmp_path / "trailcam.service"
    # the venv does not exist here: point ExecStart at an executable that does
    unit.write_text(text.replace("/opt/trailcam/venv/bin/trailcam", sys.executable))
    return subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True,
                          text=True, timeout=60)


@pytest.mark.skipif(shutil.which("systemd-analyze") is None,
                    reason="systemd-analyze not installed here (apt-get install systemd): "
                           "the unit is checked only for its required lines")
def test_systemd_analyze_verify(tmp_path):
    r = _verify(tmp_path, UNIT.read_text())
    assert r.returncode == 0, r.stderr
    assert "trailcam.service" not in r.stderr, r.stderr  # no warnings about our unit
    # and the check can fail: a broken setting is reported
    bad = _verify(tmp_path, UNIT.read_text().replace("Type=notify", "Type=notifyy"))
    assert "service type" in bad.stderr or bad.returncode != 0
