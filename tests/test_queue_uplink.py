"""The durable outbound queue: order, confirmation bits, overflow rule, kill -9."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from firmware.uplink.queue import ALERT, DAILY, EVENT, HEALTH, LORA, MQTT, OutboundQueue

REPO = Path(__file__).resolve().parent.parent


def test_order_idempotent_ids_and_confirmation_bits(tmp_path):
    q = OutboundQueue(tmp_path / "q.db", 100)
    q.put("d1", "daily", DAILY, 1.0, "daily", "{}", MQTT | LORA, lora=b"x", lora_port=2)
    q.put("h1", "health", HEALTH, 2.0, "status", "{}", MQTT)
    q.put("e1", "event", EVENT, 3.0, "events", "{}", MQTT | LORA)
    q.put("a1", "event", ALERT, 4.0, "events", "{}", MQTT | LORA, leopard=True)
    q.put("a1", "event", ALERT, 5.0, "events", "{changed}", MQTT)  # same id: ignored
    assert [m.id for m in q.next_for(MQTT, limit=10)] == ["a1", "e1", "h1", "d1"]
    assert [m.id for m in q.next_for(LORA, limit=10)] == ["a1", "e1", "d1"]
    assert q.get("a1").body == b"{}" and q.get("a1").leopard
    assert q.next_for(MQTT, exclude={"a1"})[0].id == "e1"
    assert q.done("a1", MQTT) and not q.done("a1", MQTT)  # a duplicate PUBACK changes nothing
    assert q.get("a1") is not None  # LoRa still owes it
    assert q.done("a1", LORA) and q.get("a1") is None
    q.attempt("e1", 9.0)
    assert q.get("e1").attempts == 1
    q.close()


def test_overflow_drops_least_important_never_a_leopard(tmp_path):
    q = OutboundQueue(tmp_path / "q.db", 100)
    for i in range(60):
        q.put(f"leo{i}", "event", ALERT, i, "events", "{}", MQTT, leopard=True)
    for i in range(20):
        q.put(f"ev{i}", "event", EVENT, 100 + i, "events", "{}", MQTT)
    for i in range(10):
        q.put(f"hl{i}", "health", HEALTH, 200 + i, "status", "{}", MQTT)
    for i in range(10):
        q.put(f"dy{i}", "daily", DAILY, 300 + i, "daily", "{}", MQTT)
    assert len(q) == 100
    dropped = q.put("ev-new", "event", EVENT, 400, "events", "{}", MQTT)
    assert dropped == ["dy0"]  # least important, oldest first
    dropped = []
    for i in range(30):
        dropped += q.put(f"more{i}", "event", EVENT, 500 + i, "events", "{}", MQTT)
    assert dropped[:9] == [f"dy{i}" for i in range(1, 10)] and dropped[9:19] == [f"hl{i}" for i in range(10)]
    assert dropped[19:] == [f"ev{i}" for i in range(11)]
    for i in range(200):  # only leopards left to drop: none is; the queue grows past its bound
        q.put(f"leo-x{i}", "event", ALERT, 1000 + i, "events", "{}", MQTT, leopard=True)
    ids = {m.id for m in q.all()}
    assert all(f"leo{i}" in ids for i in range(60)) and all(f"leo-x{i}" in ids for i in range(200))
    assert len(q) == 260  # only the leopards are left
    assert q.meta("dropped") == 100 + 1 + 30 + 200 - len(q)
    q.close()


CHILD = """
import sys
from pathlib import Path
from firmware.uplink.queue import OutboundQueue, EVENT, MQTT
q = OutboundQueue(Path(sys.argv[1]), 100000)
for i in range(100000):
    q.put(f"m{i}", "event", EVENT, float(i), "events", "x" * 200, MQTT)
    if i % 50 == 0:
        q.done(f"m{i}", MQTT)
    print(i, flush=True)
"""


def test_survives_kill_9(tmp_path):
    db = tmp_path / "q.db"
    p = subprocess.Popen([sys.executable, "-c", CHILD, str(db)], cwd=REPO, stdout=subprocess.PIPE, text=True,
                         env=dict(os.environ, PYTHONPATH=str(REPO)))
    last = -1
    for line in p.stdout:
        last = int(line)
        if last >= 300:
            break
    os.kill(p.pid, signal.SIGKILL)
    p.wait()
    q = OutboundQueue(db, 100000)
    ids = {m.id for m in q.all()}
    # every put that returned before the kill is there, every done stays done
    expected = {f"m{i}" for i in range(last + 1) if i % 50}
    assert expected <= ids
    assert not any(f"m{i}" in ids for i in range(0, last + 1, 50))
    q.close()
