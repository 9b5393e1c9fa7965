"""Configuration: typed, refusing unknown and out-of-range keys with the key path."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import BaseModel

from firmware.config import Config, ConfigError, load_config, parse_config

REPO = Path(__file__).resolve().parent.parent


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "firmware.cli", *args], capture_output=True, text=True, cwd=REPO)


def test_example_config_is_valid():
    cfg = load_config(REPO / "deploy" / "config.example.toml")
    assert cfg.hardware == "pi"
    assert cfg.recorder.pre_roll_s == 3.0


def test_every_field_has_a_description():
    def walk(model, prefix=""):
        for name, f in model.model_fields.items():
            assert f.description, f"{prefix}{name} has no description"
            ann = f.annotation
            if isinstance(ann, type) and issubclass(ann, BaseModel):
                walk(ann, f"{prefix}{name}.")
    walk(Config)


@pytest.mark.parametrize("toml, path, fragment", [
    ("[recorder]\npre_roll_s = 60\n", "recorder.pre_roll_s", "less than or equal to 10"),
    ("[motion]\ncolour = 3\n", "motion.colour", "unknown key"),
    ("[camera]\nfps = 0\n", "camera.fps", "greater than or equal to 1"),
    ("[motion]\nblur = 4\n", "motion.blur", "odd"),
    ("[camera]\nmain_size = [641, 360]\n", "camera.main_size", "even"),
    ("[trigger]\nsource = \"radar\"\n", "trigger.source", "'pir', 'motion' or 'either'"),
])
def test_bad_key_is_named_with_value_and_rule(tmp_path, toml, path, fragment):
    f = tmp_path / "c.toml"
    f.write_text(toml)
    with pytest.raises(ConfigError) as info:
        load_config(f)
    text = str(info.value)
    assert path in text and fragment in text


def test_cross_field_rules():
    with pytest.raises(ConfigError, match="min_area must be smaller than max_area"):
        parse_config({"motion": {"min_area": 0.5, "max_area": 0.4}})
    with pytest.raises(ConfigError, match="light_lux must be above dark_lux"):
        parse_config({"illumination": {"dark_lux": 20, "light_lux": 10}})
    with pytest.raises(ConfigError, match="watch_interval_s"):
        parse_config({"trigger": {"source": "motion"}})
    with pytest.raises(ConfigError, match="simulator.scenario"):
        parse_config({"hardware": "sim"})


def test_validate_config_cli_exit_codes(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[recorder]\nmax_clip_s = 9000\n[pir]\npin = 99\n")
    r = _cli("validate-config", str(bad))
    assert r.returncode == 2
    assert "recorder.max_clip_s = 9000" in r.stderr and "pir.pin = 99" in r.stderr
    ok = _cli("validate-config", str(REPO / "deploy" / "config.example.toml"))
    assert ok.returncode == 0, ok.stderr
    broken = tmp_path / "broken.toml"
    broken.write_text("[recorder\n")
    r = _cli("validate-config", str(broken))
    assert r.returncode == 2 and "not valid TOML" in r.stderr
