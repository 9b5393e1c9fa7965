"""Uplink benchmark: messages/s through the durable queue to a real mosquitto (TLS, QoS 1), and
a 7-day outage then reconnect in the simulator (time to drain, order, nothing lost).

    .venv/bin/python bench/bench_uplink.py [--messages 2000]
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

from firmware.clock import RealClock  # noqa: E402
from firmware.config import parse_config  # noqa: E402
from firmware.eventlog import Event  # noqa: E402
from firmware.uplink.service import Uplink  # noqa: E402
from hw_sim.clock import SimClock  # noqa: E402
from hw_sim.coverage import build_sim_uplink  # noqa: E402

DAY = 86400.0


def event(i: int, t: float, label: str = "deer", decision: str = "kept") -> Event:
    return Event(id=f"e{i}", seq=i, start=t, end=t + 6, trigger="pir", trigger_time=t, status="done",
                 decision=decision, label=label, score=0.9)


def bench_mosquitto(n: int) -> None:
    from mqtt_broker import USER, Broker, make_tls

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        broker = Broker(tmp / "broker", make_tls(tmp / "tls"))
        broker.start()
        try:
            cfg = parse_config({"device": {"id": "bench"}, "uplink": {"enabled": True, "mqtt": {
                "enabled": True, "host": "127.0.0.1", "port": broker.port, "ca_file": str(broker.tls.ca),
                "cert_file": str(broker.tls.client_cert), "key_file": str(broker.tls.client_key),
                "username": USER, "password_file": str(broker.tls.password_file), "max_inflight": 100}}})
            up = Uplink(cfg.uplink, "bench", tmp / "data", RealClock(), root_config=cfg)
            t0 = time.perf_counter()
            for i in range(n):
                up.event(event(i, 1.75e9 + i), alert=False)
            t_put = time.perf_counter() - t0
            while not up.transports[0].up():
                up.tick()
                time.sleep(0.01)
            t0 = time.perf_counter()
            while len(up.queue):
                up.tick()
            t_send = time.perf_counter() - t0
            up.close()
        finally:
            broker.stop()
    print(f"queue put (WAL, synchronous=FULL): {n / t_put:.0f} msg/s")
    print(f"queue -> mosquitto (TLS, QoS 1, PUBACK then delete): {n / t_send:.0f} msg/s ({n} messages)")


def bench_outage() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        clock = SimClock(start_epoch=1_735_653_600.0)
        cfg = parse_config({"device": {"id": "ridge", "timezone": "Asia/Vladivostok"},
                            "uplink": {"enabled": True, "mqtt": {"enabled": True},
                                       "lora": {"enabled": True, "data_rate": 0}}})
        sim = build_sim_uplink(cfg, tmp, clock, {"mqtt_period_s": 21600, "mqtt_window_s": 600,
                                                 "lora_sf": [12], "outages": [[0, 7 * DAY]]})
        n = [0]
        expected = set()
        leopard = []

        def ev(label, decision, alert=False):
            n[0] += 1
            if decision == "kept":
                expected.add(f"ev-e{n[0]}")
            if label == "amur_leopard":
                leopard.append(f"ev-e{n[0]}")
            sim.event(event(n[0], clock.now(), label, decision), alert)

        for d in range(7):
            for h in range(24):
                clock.call_at(d * DAY + h * 3600 + 30, lambda: sim.health({"battery_v": 12.7}))
            for k in range(40):
                clock.call_at(d * DAY + 900 + k * 2000, lambda: ev("blank", "discarded"))
            for k in range(6):
                clock.call_at(d * DAY + 3000 + k * 13000, lambda: ev("deer", "kept"))
        clock.call_at(6 * DAY + 5000, lambda: ev("amur_leopard", "kept", True))
        wall0 = time.perf_counter()
        queued_at_return = None
        drained_at = None
        while clock.elapsed < 10 * DAY:
            if queued_at_return is None and clock.elapsed >= 7 * DAY:
                queued_at_return = len(sim.uplink.queue)
            sim.tick()
            if clock.elapsed >= 7 * DAY and drained_at is None and len(sim.uplink.queue) == 0:
                drained_at = clock.elapsed
            clock.sleep(30)
        wall = time.perf_counter() - wall0
        s = sim.stats()
        after = [r for r in sim.network.received if r[2] >= 7 * DAY]
        got = {i for i, topic, _ in sim.network.received if topic == "events"}
        sim.close()
    print(f"7-day outage: {queued_at_return} messages waiting when coverage returned")
    print(f"  drained over MQTT in {(drained_at - 7 * DAY) / 60:.1f} simulated minutes "
          f"(first 10-min window); first message out: {after[0][0]} "
          f"({'the leopard event' if after[0][0] in leopard else 'NOT the leopard event'})")
    print(f"  kept events delivered {len(got & expected)}/{len(expected)}; uplink block: {s}")
    print(f"  10 simulated days in {wall:.1f} s wall")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--messages", type=int, default=2000)
    args = ap.parse_args()
    bench_mosquitto(args.messages)
    bench_outage()


if __name__ == "__main__":
    main()
