"""Remote configuration: whitelist, typed validation, atomic overlay, load_with_overlay."""
from __future__ import annotations

import json

import pytest

from firmware.config import ConfigError, parse_config
from firmware.uplink.config import UplinkConfig
from firmware.uplink.remote import evaluate, load_with_overlay, overlay_path, parse_request, persist_patch
from firmware.uplink.service import build_uplink

ALLOWED = list(UplinkConfig().remote.allowed)


def test_whitelist_refuses_credentials_broker_and_identity():
    cur = parse_config({})
    for patch, path in [({"uplink": {"mqtt": {"host": "x"}}}, "uplink.mqtt.host"),
                        ({"uplink": {"mqtt": {"password_file": "/x"}}}, "uplink.mqtt.password_file"),
                        ({"device": {"id": "other"}}, "device.id"),
                        ({"uplink": {"remote": {"allowed": ["device."]}}}, "uplink.remote.allowed"),
                        ({"paths": {"data_dir": "/tmp"}}, "paths.data_dir")]:
        r = evaluate(cur, patch, ALLOWED)
        assert not r.accepted and r.errors == [{"path": path, "error": "not remotely settable"}]


def test_typed_validation_reports_key_paths_and_cross_field_rules():
    cur = parse_config({})
    r = evaluate(cur, {"recorder": {"post_roll_s": -1, "nope": 2}}, ALLOWED)
    assert not r.accepted and {e["path"] for e in r.errors} == {"recorder.post_roll_s", "recorder.nope"}
    r = evaluate(cur, {"recorder": {"pre_roll_s": 9, "post_roll_s": 30, "max_clip_s": 30}}, ALLOWED)
    assert not r.accepted and "shorter than max_clip_s" in r.errors[0]["error"]
    r = evaluate(cur, {"uplink": {"lora": {"data_rate": 9}}}, ALLOWED)
    assert r.errors[0]["path"] == "uplink.lora.data_rate"
    r = evaluate(cur, {"recorder": {"post_roll_s": 4}}, ALLOWED)
    assert r.accepted and r.config.recorder.post_roll_s == 4 and cur.recorder.post_roll_s == 3.0
    narrow = evaluate(cur, {"motion": {"threshold": 30}}, ["recorder."])
    assert not narrow.accepted


def test_request_envelope_and_garbage():
    assert parse_request(b'{"id": 5, "set": {"a": 1}}') == ({"a": 1}, "5", [])
    assert parse_request(b'{"a": 1}') == ({"a": 1}, None, [])
    assert parse_request(b"\xff")[2][0]["error"].startswith("not JSON")
    assert parse_request(b'{"id": 1, "set": {}, "x": 2}')[2][0]["path"] == "x"
    assert not evaluate(parse_config({}), [], ALLOWED).accepted


def test_overlay_persisted_and_merged_at_load(tmp_path):
    toml = tmp_path / "unit.toml"
    data = tmp_path / "data"
    toml.write_text(f'[paths]\ndata_dir = "{data}"\n[recorder]\npost_roll_s = 2.0\npre_roll_s = 1.0\n')
    persist_patch(data, {"recorder": {"post_roll_s": 6.0}})
    persist_patch(data, {"motion": {"threshold": 40}})
    assert json.loads(overlay_path(data).read_text()) == {"recorder": {"post_roll_s": 6.0}, "motion": {"threshold": 40}}
    cfg = load_with_overlay(toml)
    assert cfg.recorder.post_roll_s == 6.0 and cfg.recorder.pre_roll_s == 1.0 and cfg.motion.threshold == 40
    # an overlay that no longer validates is set aside; the TOML alone runs
    overlay_path(data).write_text(json.dumps({"recorder": {"post_roll_s": 500}}))
    cfg = load_with_overlay(toml)
    assert cfg.recorder.post_roll_s == 2.0 and (data / "config-overlay.json.invalid").exists()
    # a forged overlay touching a non-settable key is refused too
    overlay_path(data).write_text(json.dumps({"uplink": {"mqtt": {"host": "evil"}}}))
    assert load_with_overlay(toml).uplink.mqtt.host == "localhost"
    toml.write_text("[recorder]\npost_roll_s = 99\n")
    with pytest.raises(ConfigError):
        load_with_overlay(toml, data)


def test_disabled_by_default_builds_nothing(tmp_path):
    cfg = parse_config({})
    assert cfg.uplink.enabled is False
    assert build_uplink(cfg, "x", tmp_path, clock=None) is None


def test_uplink_config_rules():
    with pytest.raises(ConfigError) as e:
        parse_config({"uplink": {"enabled": True}})
    assert "neither mqtt.enabled nor lora.enabled" in str(e.value)
    with pytest.raises(ConfigError) as e:
        parse_config({"uplink": {"mqtt": {"tls": False, "username": "u", "password_file": "p"}}})
    assert "uplink.mqtt" in str(e.value) and "TLS" in str(e.value)
    with pytest.raises(ConfigError):
        parse_config({"uplink": {"lora": {"region": "AS923", "data_rate": 0}}})
    with pytest.raises(ConfigError):
        parse_config({"uplink": {"lora": {"event_port": 2}}})
    with pytest.raises(ConfigError):
        parse_config({"uplink": {"remote": {"allowed": ["uplink.mqtt.host"]}}})
