"""The uplink service the main loop drives: enqueue, then `tick()` (non-blocking) sends.

    up = build_uplink(config, config.device.id, data_dir, clock, on_remote_config=swap)
    up.event(ev, alert)   # every decided event: kept ones are sent, all are counted daily
    up.health(snapshot)   # rate-limited per transport (heartbeat_s, health_interval_s)
    up.tick()             # often: results, remote config, daily summary, sends
    up.stats()            # the sim report's `uplink` block

Routing: MQTT carries everything in full (JSON); LoRa carries the compact forms of kept events,
health and daily summaries within the airtime budget. A message leaves the queue when every
transport that owes it has confirmed it; once MQTT has delivered the full message, LoRa no longer
owes its compact copy (no airtime spent on what already arrived). Priorities: leopard/alert < other kept events < health
< daily summary (lower first). When LoRa airtime is short, ordinary events and health are
folded (counted in the next daily summary) so alerts and the summary keep their reserve.
"""
from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any, Callable

from ..clock import iso
from .config import UplinkConfig
from .payload import (
    DailySummary, codes, day_date, decode_config_downlink, downlink_key_code, encode_ack,
    event_summary, health_report, local_day_minute,
)
from .queue import ALERT, DAILY, EVENT, HEALTH, LORA, MQTT, Message, OutboundQueue
from .remote import RemoteResult, evaluate, parse_request, persist_patch

log = logging.getLogger(__name__)

DB_NAME = "uplink.db"


class Uplink:
    def __init__(self, cfg: UplinkConfig, device_id: str, data_dir: Path, clock: Any,
                 transports: list | None = None, on_remote_config: Callable[[Any], None] | None = None,
                 *, root_config: Any = None, timezone: str = "UTC",
                 on_result: Callable[[Message, str, str], None] | None = None,
                 environ: dict[str, str] | None = None):
        self.cfg = cfg
        self.device_id = device_id
        self.data_dir = Path(data_dir)
        self.clock = clock
        self.tz = timezone
        self.root_config = root_config
        self.on_remote_config = on_remote_config
        self.on_result = on_result
        self.target = root_config.policy.target_class if root_config is not None else "amur_leopard"
        # low-battery mode: alerts, health and the daily summary go out; ordinary events wait in
        # the queue, and no thumbnails are queued (the files stay on the card)
        self.low_power = False
        self.queue = OutboundQueue(self.data_dir / DB_NAME, cfg.queue.max_messages)
        self.transports: list = []
        if transports is None:
            transports = self._default_transports(environ)
        for t in transports:
            self.add_transport(t)

    def _default_transports(self, environ: dict[str, str] | None) -> list:
        out: list = []
        if self.cfg.mqtt.enabled:
            from .mqtt import MqttTransport
            out.append(MqttTransport(self.cfg.mqtt, self.device_id, self.clock, environ))
        if self.cfg.lora.enabled:
            out.append(self.make_lora(environ=environ))
        return out

    def make_lora(self, serial_port: Any = None, environ: dict[str, str] | None = None):
        """A LoRa transport whose airtime budget persists in this uplink's queue database."""
        from .lora import AirtimeBudget, LoraTransport
        budget = AirtimeBudget(self.cfg.lora, self.clock, self.tz, self.queue.meta, self.queue.set_meta)
        return LoraTransport(self.cfg.lora, self.clock, budget, serial_port=serial_port, environ=environ)

    def add_transport(self, t: Any) -> None:
        self.transports.append(t)

    def _bits(self, *kinds: int) -> int:
        present = 0
        for t in self.transports:
            present |= t.bit
        want = 0
        for k in kinds:
            want |= k
        return present & want

    def _transport(self, bit: int) -> Any:
        for t in self.transports:
            if t.bit == bit:
                return t
        return None

    # --- what the main loop hands in -----------------------------------------------------
    def event(self, ev: Any, alert: bool) -> None:
        """A decided event. Every one is counted for the daily summary; kept ones are queued.

        Counting and queueing are one transaction, and an event (by its sequence number) is
        taken once: after a power cut the main loop hands the same event over again, safely."""
        with self.queue.transaction():
            if ev.seq <= self.queue.meta("counted_seq", -1):
                return
            self._event(ev, alert)
            self.queue.set_meta("counted_seq", ev.seq)

    def _event(self, ev: Any, alert: bool) -> None:
        day, _ = local_day_minute(ev.start, self.tz)
        key = f"day-{day}"
        c = self.queue.meta(key, {})
        c["triggers"] = c.get("triggers", 0) + 1
        kept = ev.decision == "kept"
        leopard = kept and ev.label == self.target
        if kept:
            c["kept"] = c.get("kept", 0) + 1
            cls = str(codes().class_code(ev.label))
            classes = c.setdefault("classes", {})
            classes[cls] = classes.get(cls, 0) + 1
            if leopard:
                c["leopards"] = c.get("leopards", 0) + 1
        else:
            c["discarded"] = c.get("discarded", 0) + 1
        self.queue.set_meta(key, c)
        if not kept:
            return
        prio = ALERT if (alert or leopard) else EVENT
        body = {
            "id": f"ev-{ev.id}", "event": ev.id, "seq": ev.seq, "device": self.device_id,
            "start": iso(ev.start), "end": iso(ev.end) if ev.end is not None else None,
            "trigger": ev.trigger, "label": ev.label, "score": ev.score, "decision": ev.decision,
            "reason": ev.reason, "alert": bool(alert), "model": ev.model,
            "clip": Path(ev.clip).name if ev.clip else None,
            "thumbnail_bytes": self._size(ev.thumb),
        }
        confirm = self.cfg.lora.confirm == "events" or (self.cfg.lora.confirm == "alerts" and prio == ALERT)
        self._put(self.queue.put(
            f"ev-{ev.id}", "event", prio, self.clock.now(), "events", json.dumps(body),
            self._bits(MQTT, LORA), leopard=leopard,
            lora=event_summary(ev, alert, self.tz).encode(), lora_port=self.cfg.lora.event_port,
            confirmed=confirm))
        if self.cfg.mqtt.thumbnails and ev.thumb and self._bits(MQTT) and not self.low_power:
            self._put(self.queue.put(f"th-{ev.id}", "thumb", prio, self.clock.now(), f"thumb/{ev.id}",
                                     str(self.data_dir / ev.thumb), self._bits(MQTT), leopard=leopard))

    def set_low_power(self, on: bool) -> None:
        """Low-battery mode on or off (the field unit's first battery threshold)."""
        if on != self.low_power:
            log.warning("uplink: low-battery mode %s", "on: alerts, health and daily summary only" if on else "off")
        self.low_power = on

    def _size(self, rel: str | None) -> int | None:
        if not rel:
            return None
        try:
            return (self.data_dir / rel).stat().st_size
        except OSError:
            return None

    def health(self, snapshot: dict) -> None:
        """A health snapshot (battery_v, temperature_c, disk_free_pct, uptime_s, versions, ...)."""
        now = self.clock.now()
        bits = 0
        if self._bits(MQTT) and now - self.queue.meta("last_status", -1e18) >= self.cfg.mqtt.heartbeat_s:
            bits |= MQTT
        if self._bits(LORA) and now - self.queue.meta("last_health_lora", -1e18) >= self.cfg.lora.health_interval_s:
            bits |= LORA
        if not bits:
            return
        if bits & LORA:
            for m in self.queue.next_for(LORA, limit=1_000_000):
                if m.kind == "health":
                    self.queue.clear_lora(m.id)  # superseded by this one
            self.queue.set_meta("last_health_lora", now)
        if bits & MQTT:
            self.queue.set_meta("last_status", now)
        depth = len(self.queue)
        body = dict(snapshot, device=self.device_id, time=iso(now), queue_depth=depth)
        self._put(self.queue.put(
            f"hl-{int(now * 1000)}", "health", HEALTH, now, "status", json.dumps(body, default=str),
            bits, lora=health_report(snapshot, depth).encode(), lora_port=self.cfg.lora.health_port))

    def _put(self, dropped: list[str]) -> None:
        for msg_id in dropped:
            log.warning("uplink queue full: %s dropped (overflow rule)", msg_id)

    # --- the loop ------------------------------------------------------------------------
    def tick(self) -> None:
        for t in self.transports:
            t.tick()
            for msg_id, status in t.results():
                self._result(t, msg_id, status)
            for kind, raw in t.inbound():
                self._remote(kind, raw, t)
        self._daily()
        for t in self.transports:
            self._send(t)

    def _result(self, t: Any, msg_id: str, status: str) -> None:
        msg = self.queue.get(msg_id)
        if status == "retry" or msg is None:
            return
        if self.queue.done(msg_id, t.bit):
            if t.bit == MQTT and status == "ok" and msg.pending & LORA:
                self.queue.clear_lora(msg_id)  # the full message arrived: its compact copy is moot
            if status == "ok":
                self.queue.bump(f"sent_{t.name}")
            elif status == "refused":
                self.queue.bump("lost")
            if self.on_result is not None:
                self.on_result(msg, t.name, status)

    def _send(self, t: Any) -> None:
        while t.ready():
            batch = self.queue.next_for(t.bit, exclude=t.in_flight(), limit=1,
                                        skip_priorities=(EVENT,) if self.low_power else ())
            if not batch:
                return
            msg = batch[0]
            if t.bit == LORA:
                plan = t.budget.plan(msg, t.data_rate)
                if plan == "wait":
                    return
                if plan == "fold":
                    self._fold(msg)
                    continue
            self.queue.attempt(msg.id, self.clock.now())
            t.send(msg, msg.confirmed)

    def _fold(self, msg: Message) -> None:
        self.queue.clear_lora(msg.id)
        if msg.kind == "event":
            day, _ = local_day_minute(self.clock.now(), self.tz)
            c = self.queue.meta(f"day-{day}", {})
            c["folded"] = c.get("folded", 0) + 1
            self.queue.set_meta(f"day-{day}", c)
        self.queue.bump("folded")

    def _daily(self) -> None:
        day, minute = local_day_minute(self.clock.now(), self.tz)
        nxt = self.queue.meta("summary_next_day")
        if nxt is None:
            self.queue.set_meta("summary_next_day", day)
            return
        while nxt < day and (nxt < day - 1 or minute >= self.cfg.daily_summary_hour * 60):
            c = self.queue.meta(f"day-{nxt}", {})
            classes = {int(k): v for k, v in c.get("classes", {}).items()}
            leo_code = codes().class_code(self.target)
            others = sorted(((n, -k) for k, n in classes.items() if k != leo_code), reverse=True)
            top_count, top_cls = (others[0][0], -others[0][1]) if others else (0, 0)
            s = DailySummary(day=nxt, triggers=c.get("triggers", 0), discarded=c.get("discarded", 0),
                             kept=c.get("kept", 0), leopards=c.get("leopards", 0),
                             folded=c.get("folded", 0), top_cls=top_cls, top_count=top_count)
            body = {"id": f"dy-{day_date(nxt).isoformat()}", "device": self.device_id,
                    "date": day_date(nxt).isoformat(), "triggers": s.triggers, "discarded": s.discarded,
                    "kept": s.kept, "leopards": s.leopards, "folded_from_lora": s.folded,
                    "classes": {codes().class_name(k): v for k, v in sorted(classes.items())}}
            with self.queue.transaction():  # the summary, and the day's counters gone, together
                self._put(self.queue.put(
                    body["id"], "daily", DAILY, self.clock.now(), "daily", json.dumps(body),
                    self._bits(MQTT, LORA), lora=s.encode(), lora_port=self.cfg.lora.daily_port))
                self.queue.db.execute("DELETE FROM uplink_meta WHERE name = ?", (f"day-{nxt}",))
                nxt += 1
                self.queue.set_meta("summary_next_day", nxt)

    # --- remote configuration ------------------------------------------------------------
    def _remote(self, kind: str, raw: bytes, via: Any) -> None:
        if kind == "json":
            patch, request, errors = parse_request(raw)
        else:
            patch, problems = decode_config_downlink(raw)
            request, errors = None, [{"path": "(downlink)", "error": p} for p in problems]
        if errors:
            result = RemoteResult(False, request, errors)
        elif not self.cfg.remote.enabled:
            result = RemoteResult(False, request,
                                  [{"path": "(top level)", "error": "remote configuration is disabled"}])
        elif self.root_config is None:
            result = RemoteResult(False, request,
                                  [{"path": "(top level)", "error": "unit started without its full config"}])
        else:
            result = evaluate(self.root_config, patch, self.cfg.remote.allowed, request)
        if result.accepted:
            try:
                persist_patch(self.data_dir, result.patch)
            except OSError as err:
                result = RemoteResult(False, request,
                                      [{"path": "(top level)", "error": f"cannot persist: {err.strerror}"}])
        if result.accepted:
            self.root_config = result.config
            self._reconfigure(result.config.uplink)
            log.info("remote config accepted: %s", json.dumps(result.patch))
            if self.on_remote_config is not None:
                self.on_remote_config(result.config)
        else:
            log.warning("remote config refused: %s", result.errors)
        self._ack(result, via_lora=(kind == "compact"))

    def _reconfigure(self, new: UplinkConfig) -> None:
        self.cfg = new
        for t in self.transports:
            if t.bit == LORA:
                t.reconfigure(new.lora)

    def _ack(self, result: RemoteResult, via_lora: bool) -> None:
        n = self.queue.meta("ack_seq", 0) + 1
        self.queue.set_meta("ack_seq", n)
        first = downlink_key_code(result.errors[0]["path"]) if result.errors else 0
        bits = self._bits(MQTT) | (self._bits(LORA) if via_lora else 0)
        self._put(self.queue.put(
            f"ack-{n}", "ack", ALERT, self.clock.now(), "config/ack", json.dumps(result.ack()), bits,
            lora=encode_ack(result.accepted, first), lora_port=self.cfg.lora.ack_port))

    # --- reporting -----------------------------------------------------------------------
    def stats(self) -> dict:
        lora = self._transport(LORA)
        return {
            "mqtt_sent": self.queue.meta("sent_mqtt", 0),
            "lora_sent": lora.sent if lora is not None else 0,  # uplinks the modem took, this run
            "lora_bytes_max": lora.bytes_max if lora is not None else 0,
            "lora_airtime_s": round(self.queue.meta("lora_airtime_total", 0.0), 3),
            "queued": len(self.queue),
            "lost": self.queue.meta("dropped", 0) + self.queue.meta("lost", 0),
        }

    def close(self) -> None:
        for t in self.transports:
            t.close()
        self.queue.close()


def build_uplink(cfg: Any, device_id: str, data_dir: Path, clock: Any,
                 on_remote_config: Callable[[Any], None] | None = None) -> Uplink | None:
    """`cfg` is the whole `Config` (remote configuration then works) or its `UplinkConfig`.
    Returns None when the uplink is disabled."""
    root = None
    tz = "UTC"
    if not isinstance(cfg, UplinkConfig):
        root, tz, cfg = cfg, cfg.device.timezone, cfg.uplink
    if not cfg.enabled:
        return None
    return Uplink(cfg, device_id, data_dir, clock, on_remote_config=on_remote_config,
                  root_config=root, timezone=tz)
