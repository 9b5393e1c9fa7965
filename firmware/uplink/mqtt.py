"""MQTT transport: paho-mqtt 2.x, QoS 1, TLS, credentials, retained availability, remote config.

paho's network loop runs in its own thread (`loop_start`); its callbacks only append to
thread-safe deques. Everything else — deciding a message is delivered, applying a remote
config — happens in `tick()` on the caller's thread, so the queue and the config are touched by
one thread only.

Topics, below `<prefix>/<device>/`:
  available     retained `online` / `offline` (last will)
  events        one JSON per kept event (QoS 1)
  status        heartbeat JSON
  daily         daily summary JSON
  thumb/<id>    thumbnail JPEG (size-capped, optional)
  config/set    ← remote configuration (JSON patch)
  config/ack    → accepted / refused, with each error's key path
"""
from __future__ import annotations

import collections
import logging
from pathlib import Path
from typing import Any

from .config import MqttConfig
from .credentials import read_secret
from .queue import MQTT, Message

log = logging.getLogger(__name__)

RESEND_AFTER_S = 120.0  # an unacknowledged message is published again (same id) after this


class MqttTransport:
    name = "mqtt"
    bit = MQTT

    def __init__(self, cfg: MqttConfig, device_id: str, clock: Any, environ: dict[str, str] | None = None):
        import paho.mqtt.client as mqtt

        self.cfg = cfg
        self.clock = clock
        self.base = f"{cfg.topic_prefix}/{device_id}"
        self._mqtt = mqtt
        self._acked: collections.deque[int] = collections.deque()
        self._inbound: collections.deque[tuple[str, bytes]] = collections.deque()
        self._connected = False
        self._connects = 0
        self._inflight: dict[int, tuple[str, float]] = {}  # mid -> (message id, sent at)
        self._results: list[tuple[str, str]] = []

        c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"trailcam-{device_id}",
                        clean_session=True)
        if cfg.tls:
            c.tls_set(ca_certs=cfg.ca_file, certfile=cfg.cert_file, keyfile=cfg.key_file)
        if cfg.username:
            password = read_secret(cfg.password_file, environ) if cfg.password_file else None
            c.username_pw_set(cfg.username, password)
        c.will_set(f"{self.base}/available", "offline", qos=1, retain=True)
        c.reconnect_delay_set(max(1, round(cfg.reconnect_min_s)), max(1, round(cfg.reconnect_max_s)))
        c.max_inflight_messages_set(cfg.max_inflight)
        c.on_connect = self._on_connect
        c.on_disconnect = self._on_disconnect
        c.on_publish = self._on_publish
        c.on_message = self._on_message
        self.client = c
        c.connect_async(cfg.host, cfg.port, keepalive=cfg.keepalive_s)
        c.loop_start()

    # --- paho thread ---------------------------------------------------------------------
    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            log.warning("MQTT connect to %s:%s refused: %s", self.cfg.host, self.cfg.port, reason_code)
            return
        client.publish(f"{self.base}/available", "online", qos=1, retain=True)
        client.subscribe(f"{self.base}/config/set", qos=1)
        self._connected = True
        self._connects += 1
        log.info("MQTT connected to %s:%s", self.cfg.host, self.cfg.port)

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        self._connected = False
        log.info("MQTT disconnected: %s", reason_code)

    def _on_publish(self, client, userdata, mid, reason_code, properties) -> None:
        self._acked.append(mid)

    def _on_message(self, client, userdata, msg) -> None:
        if msg.topic == f"{self.base}/config/set":
            self._inbound.append(("json", bytes(msg.payload)))

    # --- caller's thread -----------------------------------------------------------------
    @property
    def connects(self) -> int:
        return self._connects

    def tick(self) -> None:
        while self._acked:
            mid = self._acked.popleft()
            entry = self._inflight.pop(mid, None)
            if entry is not None:
                self._results.append((entry[0], "ok"))
        now = self.clock.monotonic()
        for mid, (msg_id, sent) in list(self._inflight.items()):
            if self._connected and now - sent > RESEND_AFTER_S:
                del self._inflight[mid]
                self._results.append((msg_id, "retry"))

    def up(self) -> bool:
        return self._connected

    def ready(self) -> bool:
        return self._connected and len(self._inflight) < self.cfg.max_inflight

    def in_flight(self) -> set[str]:
        return {m for m, _ in self._inflight.values()}

    def send(self, msg: Message, confirmed: bool = True) -> None:
        payload = msg.body
        if msg.kind == "thumb":
            path = Path(msg.body.decode())
            try:
                payload = path.read_bytes()
            except OSError as err:
                log.warning("thumbnail %s not sent: %s", path, err.strerror)
                self._results.append((msg.id, "skipped"))  # nothing left to send
                return
            if len(payload) > self.cfg.thumbnail_max_bytes:
                log.info("thumbnail %s (%d bytes) over the cap, not sent", path, len(payload))
                self._results.append((msg.id, "skipped"))
                return
        info = self.client.publish(f"{self.base}/{msg.topic}", payload, qos=1)
        if info.rc != self._mqtt.MQTT_ERR_SUCCESS:
            self._results.append((msg.id, "retry"))
            return
        self._inflight[info.mid] = (msg.id, self.clock.monotonic())

    def results(self) -> list[tuple[str, str]]:
        """(message id, "ok" | "retry" | "skipped") since the last call."""
        out, self._results = self._results, []
        return out

    def inbound(self) -> list[tuple[str, bytes]]:
        out = []
        while self._inbound:
            out.append(self._inbound.popleft())
        return out

    def close(self) -> None:
        if self._connected:
            info = self.client.publish(f"{self.base}/available", "offline", qos=1, retain=True)
            info.wait_for_publish(timeout=2.0)
        self.client.disconnect()
        self.client.loop_stop()
