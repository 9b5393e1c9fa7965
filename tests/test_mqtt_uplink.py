"""The uplink against a real mosquitto (TLS, client certificate, password from a credentials dir)."""
# ruff: noqa: F811  (pytest fixtures imported from mqtt_broker are redefined as arguments)
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from mqtt_broker import USER, Subscriber, broker, tls_material, wait_until  # noqa: F401

from firmware.clock import RealClock
from firmware.config import parse_config
from firmware.eventlog import Event
from firmware.uplink.remote import overlay_path
from firmware.uplink.service import Uplink

REPO = Path(__file__).resolve().parent.parent
PREFIX = "tc"
DEVICE = "unit-7"


def root_config(broker, **mqtt_extra):
    mqtt = {"enabled": True, "host": "127.0.0.1", "port": broker.port, "ca_file": str(broker.tls.ca),
            "cert_file": str(broker.tls.client_cert), "key_file": str(broker.tls.client_key),
            "username": USER, "password_file": "mqtt_password", "topic_prefix": PREFIX,
            "reconnect_min_s": 0.5, "reconnect_max_s": 1.0}
    mqtt.update(mqtt_extra)
    return parse_config({"device": {"id": DEVICE, "timezone": "UTC"}, "uplink": {"enabled": True, "mqtt": mqtt}})


def make_uplink(broker, data_dir, on_remote_config=None, **mqtt_extra) -> Uplink:
    cfg = root_config(broker, **mqtt_extra)
    env = {"CREDENTIALS_DIRECTORY": str(broker.tls.password_file.parent)}
    return Uplink(cfg.uplink, DEVICE, data_dir, RealClock(), on_remote_config=on_remote_config,
                  root_config=cfg, timezone="UTC", environ=env)


def ev(i: int, label: str = "deer", decision: str = "kept") -> Event:
    t = 1_717_000_000.0 + 60 * i
    return Event(id=f"e{i:05d}", seq=i, start=t, end=t + 8, trigger="pir", trigger_time=t, status="done",
                 decision=decision, label=label, score=0.9, clip=f"clips/e{i:05d}.mp4", reason="test")


def drain(up: Uplink, timeout: float = 30.0) -> bool:
    return wait_until(lambda: len(up.queue) == 0, timeout, step=up.tick)


def event_ids(sub: Subscriber) -> list[str]:
    return [json.loads(p)["id"] for p in sub.on("/events")]


def test_publish_ack_removes_from_queue_and_orders_by_priority(broker, tmp_path):
    sub = Subscriber(broker, f"{PREFIX}/{DEVICE}/#")
    up = make_uplink(broker, tmp_path / "data")
    try:
        for i in range(5):
            up.event(ev(i), alert=False)
        up.event(ev(5, "amur_leopard"), alert=True)
        up.event(ev(6, decision="discarded"), alert=False)  # counted, not sent
        up.health({"battery_v": 12.1, "temperature_c": -5.0, "disk_free_pct": 80, "uptime_s": 100})
        assert len(up.queue) == 7
        assert wait_until(lambda: up.transports[0].up(), 15, step=up.tick)
        assert drain(up)
        assert wait_until(lambda: len(sub.on("/events")) >= 6 and sub.on("/status"), 10)
        ids = event_ids(sub)
        assert ids[0] == "ev-e00005"  # the leopard first
        assert sorted(set(ids)) == sorted(f"ev-e{i:05d}" for i in range(6))
        body = json.loads(sub.on("/events")[0])
        assert body["label"] == "amur_leopard" and body["clip"] == "e00005.mp4" and body["alert"] is True
        assert "latitude" not in body and "best_box" not in body
        status = json.loads(sub.on("/status")[0])
        assert status["battery_v"] == 12.1 and status["queue_depth"] == 6  # waiting when the snapshot was taken
        assert sub.on("/available")[-1] == b"online"
        assert up.stats()["mqtt_sent"] == 7 and up.stats()["queued"] == 0
    finally:
        up.close()
        sub.close()
    assert wait_until(lambda: sub.on("/available") and True, 1)


def test_password_never_logged(broker, tmp_path, caplog):
    caplog.set_level("DEBUG")
    up = make_uplink(broker, tmp_path / "data")
    try:
        up.event(ev(1), alert=False)
        assert drain(up)
    finally:
        up.close()
    assert "s3cret" not in caplog.text


def test_broker_restart_mid_stream_loses_nothing(broker, tmp_path):
    sub = Subscriber(broker, f"{PREFIX}/{DEVICE}/events")
    up = make_uplink(broker, tmp_path / "data", max_inflight=5)
    n = 300
    try:
        for i in range(n):
            up.event(ev(i), alert=False)
        assert wait_until(lambda: len(up.queue) < n - 50, 20, step=up.tick)
        broker.stop()  # SIGTERM: the broker saves its persistent sessions
        for _ in range(50):
            up.tick()
            up.event(ev(n), alert=False) if _ == 0 else None
        time.sleep(0.5)
        left = len(up.queue)
        assert left > 0
        broker.start()
        assert drain(up, 60)
        assert wait_until(lambda: len(set(event_ids(sub))) >= n + 1, 20)
    finally:
        up.close()
        sub.close()
    ids = event_ids(sub)
    assert set(ids) == {f"ev-e{i:05d}" for i in range(n + 1)}
    # duplicates, if any, carry the same id and the same content
    bodies = {}
    for p in sub.on("/events"):
        b = json.loads(p)
        assert bodies.setdefault(b["id"], b) == b


CHILD = """
import os, signal, sys
sys.path.insert(0, {tests!r})
from test_mqtt_uplink import make_uplink, ev
class B: pass
b = B(); b.port = {port}
class T: pass
b.tls = T()
from pathlib import Path
b.tls.ca, b.tls.client_cert, b.tls.client_key = Path({ca!r}), Path({cert!r}), Path({key!r})
b.tls.password_file = Path({pw!r})
up = make_uplink(b, Path({data!r}))
for i in range(40):
    up.event(ev(i, "amur_leopard" if i % 10 == 0 else "deer"), alert=False)
import time
t0 = time.monotonic()
while up.stats()["mqtt_sent"] < 5 and time.monotonic() - t0 < 20:
    up.tick(); time.sleep(0.01)
print("sent", up.stats()["mqtt_sent"], flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_kill_9_mid_stream_then_restart_delivers_everything(broker, tmp_path):
    sub = Subscriber(broker, f"{PREFIX}/{DEVICE}/#")
    data = tmp_path / "data"
    t = broker.tls
    code = CHILD.format(tests=str(Path(__file__).parent), port=broker.port, ca=str(t.ca), cert=str(t.client_cert),
                        key=str(t.client_key), pw=str(t.password_file), data=str(data))
    r = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60,
                       env=dict(os.environ, PYTHONPATH=str(REPO)))
    assert r.returncode == -signal.SIGKILL, r.stderr
    assert r.stdout.startswith("sent")
    # the broker published the retained last will when the unit died
    assert wait_until(lambda: sub.on("/available")[-1:] == [b"offline"], 10)
    up = make_uplink(broker, data)
    try:
        assert len(up.queue) > 0
        assert drain(up)
        assert wait_until(lambda: len(set(event_ids(sub))) >= 40, 10)
        assert sub.on("/available")[-1] == b"online"
    finally:
        up.close()
        sub.close()
    assert set(event_ids(sub)) == {f"ev-e{i:05d}" for i in range(40)}


def test_remote_config_over_mqtt_refused_then_accepted(broker, tmp_path):
    sub = Subscriber(broker, f"{PREFIX}/{DEVICE}/config/ack")
    applied = []
    data = tmp_path / "data"
    up = make_uplink(broker, data, on_remote_config=applied.append)
    before = up.root_config
    topic = f"{PREFIX}/{DEVICE}/config/set"
    try:
        assert wait_until(lambda: up.transports[0].up(), 15, step=up.tick)
        time.sleep(0.2)
        sub.publish(topic, json.dumps({"id": "r1", "set": {"recorder": {"post_roll_s": 99, "bogus": 1}}}))
        sub.publish(topic, json.dumps({"id": "r2", "set": {"uplink": {"mqtt": {"host": "evil.example"}}}}))
        sub.publish(topic, b"{not json")
        sub.publish(topic, json.dumps({"id": "r3", "set": {"recorder": {"post_roll_s": 4.5}}}))
        assert wait_until(lambda: len(sub.on("/config/ack")) >= 4, 20, step=up.tick)
    finally:
        up.close()
        sub.close()
    acks = [json.loads(p) for p in sub.on("/config/ack")]
    by_req = {a["request"]: a for a in acks}
    r1 = by_req["r1"]
    assert r1["accepted"] is False
    paths = {e["path"] for e in r1["errors"]}
    assert {"recorder.post_roll_s", "recorder.bogus"} <= paths
    assert by_req["r2"]["accepted"] is False and by_req["r2"]["errors"][0]["path"] == "uplink.mqtt.host"
    assert any(a["request"] is None and not a["accepted"] and "not JSON" in a["errors"][0]["error"] for a in acks)
    assert by_req["r3"]["accepted"] is True
    assert len(applied) == 1 and applied[0].recorder.post_roll_s == 4.5
    assert before.recorder.post_roll_s == 3.0
    assert json.loads(overlay_path(data).read_text()) == {"recorder": {"post_roll_s": 4.5}}
