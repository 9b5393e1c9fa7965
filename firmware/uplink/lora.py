"""LoRaWAN transport: a state machine over an AT modem, driven by `tick()`, timed by the clock.

States: setup → (joined? per AT+NJS=?) → joining → idle ⇄ sending; `down` with a retry time
after a failure (modem silent, join failed: backoff doubling up to 24 h). It rejoins only when the
modem says it is not joined (AT+NJS=? → 0, or AT_NO_NETWORK_JOINED on a send).
Waits for `+EVT:` lines are measured on the injected clock, so the simulator's modem (whose
delays run on the simulated clock) and a real modem behave the same to this code.

`AirtimeBudget` keeps the day's airtime (persisted in the queue db) and the duty-cycle off-time.
"""
from __future__ import annotations

import logging
from typing import Any, Callable

from .airtime import MAX_PAYLOAD, dr_airtime_s, off_time_s, tx_timeout_s
from .at_modem import DIALECTS, Line, ModemLink
from .config import LoraConfig
from .credentials import read_secret
from .payload import MAX_LORA_PAYLOAD, local_day_minute
from .queue import LORA, Message

log = logging.getLogger(__name__)

MAX_BACKOFF_S = 86400.0
BUSY_RETRY_S = 10.0


class AirtimeBudget:
    """Daily airtime (local day) and duty-cycle off-time."""

    def __init__(self, cfg: LoraConfig, clock: Any, tz: str, get: Callable[[str, Any], Any],
                 put: Callable[[str, Any], None]):
        self.cfg = cfg
        self.clock = clock
        self.tz = tz
        self._get, self._put = get, put
        self.next_tx = 0.0  # monotonic time before which the band is silent

    def _today(self) -> int:
        return local_day_minute(self.clock.now(), self.tz)[0]

    def used_today(self) -> float:
        rec = self._get("lora_airtime_day", None)
        return rec[1] if rec and rec[0] == self._today() else 0.0

    def remaining(self) -> float:
        return self.cfg.daily_airtime_s - self.used_today()

    def spend(self, seconds: float) -> None:
        self._put("lora_airtime_day", [self._today(), self.used_today() + seconds])
        self._put("lora_airtime_total", self._get("lora_airtime_total", 0.0) + seconds)
        self.next_tx = self.clock.monotonic() + off_time_s(seconds, self.cfg.duty_cycle)

    def duty_ok(self) -> bool:
        return self.clock.monotonic() >= self.next_tx

    def plan(self, msg: Message, dr: int) -> str:
        """'send', 'wait' (not today / not now) or 'fold' (give up on LoRa for this message)."""
        at = dr_airtime_s(len(msg.lora or b""), dr)
        may_use_reserve = msg.priority == 0 or msg.kind in ("daily", "ack")
        need = at if may_use_reserve else at + self.cfg.alert_reserve_s
        if self.remaining() >= need:
            return "send"
        return "wait" if may_use_reserve else "fold"


class LoraTransport:
    name = "lora"
    bit = LORA

    def __init__(self, cfg: LoraConfig, clock: Any, budget: AirtimeBudget, serial_port: Any = None,
                 environ: dict[str, str] | None = None):
        self.cfg = cfg
        self.clock = clock
        self.budget = budget
        self.dialect = DIALECTS[cfg.modem]()
        if serial_port is None:
            import serial

            serial_port = serial.Serial(cfg.port, cfg.baud or self.dialect.baud, timeout=0)
        self.link = ModemLink(serial_port, self.dialect)
        self._app_key = read_secret(cfg.app_key_file, environ) if cfg.app_key_file else None
        self.state = "setup"
        self._retry_at = 0.0
        self._backoff = cfg.join_retry_s
        self._deadline = 0.0
        self._sending: Message | None = None
        self._confirmed = False
        self._ack_seen = False
        self._join_ok = False
        self._results: list[tuple[str, str]] = []
        self._inbound: list[tuple[str, bytes]] = []
        self._dr = cfg.data_rate
        self.sent = 0
        self.bytes_max = 0
        self.refused: list[str] = []  # message ids the modem refused as malformed (never retried)

    # --- helpers -------------------------------------------------------------------------
    def reconfigure(self, cfg: LoraConfig) -> None:
        self.cfg = cfg
        self.budget.cfg = cfg
        if cfg.data_rate != self._dr and self.state in ("idle",):
            reply, _ = self.link.command(self.dialect.dr_cmd(cfg.data_rate), cfg.command_timeout_s)
            if reply.kind in ("ok", "value"):
                self._dr = cfg.data_rate

    @property
    def data_rate(self) -> int:
        return self._dr

    def _down(self, why: str, retry_s: float) -> None:
        log.info("LoRa down (%s); retry in %.0f s", why, retry_s)
        self.state = "down"
        self._retry_at = self.clock.monotonic() + retry_s

    def _fail_join(self, why: str) -> None:
        self._down(why, self._backoff)
        self._backoff = min(self._backoff * 2, MAX_BACKOFF_S)

    def _finish(self, ok: bool) -> None:
        msg = self._sending
        self._sending = None
        self.state = "idle"
        if msg is not None:
            self._results.append((msg.id, "ok" if ok else "retry"))

    # --- driving -------------------------------------------------------------------------
    def tick(self) -> None:
        now = self.clock.monotonic()
        for line in self.link.poll():
            self._on_line(line)
        if self.state == "down" and now >= self._retry_at:
            self.state = "setup"
        if self.state == "setup":
            self._setup()
        if self.state in ("joining", "sending") and now >= self._deadline:
            if self.state == "joining":
                self._fail_join("no join accept in time")
            else:
                log.warning("LoRa: no TX result in time")
                self._finish(False)
                self.state = "check"
        if self.state == "check":
            self._check_joined()

    def _setup(self) -> None:
        c = self.cfg
        for cmd in self.dialect.setup_cmds(c.region, self._dr, c.dev_eui, c.app_eui, self._app_key):
            reply, _ = self.link.command(cmd, c.command_timeout_s)
            if reply.kind not in ("ok", "value"):
                shown = cmd.split("=")[0] if "KEY" in cmd else cmd  # never log a key
                self._down(f"{shown} → {reply.text}", min(self._backoff, 600.0))
                return
        self.state = "check"
        self._check_joined()

    def _check_joined(self) -> None:
        cmd = self.dialect.joined_cmd()
        joined = None
        if cmd is not None:
            reply, values = self.link.command(cmd, self.cfg.command_timeout_s)
            if reply.kind == "timeout":
                self._down(reply.text, min(self._backoff, 600.0))
                return
            joined = self.dialect.joined_value(values)
        elif self._join_ok:
            joined = True
        if joined:
            self.state = "idle"
            self._backoff = self.cfg.join_retry_s
            return
        self._join()

    def _join(self) -> None:
        reply, _ = self.link.command(self.dialect.join_cmd(), self.cfg.command_timeout_s)
        if reply.kind == "joined":  # Wio-E5: "Joined already"
            self._join_ok = True
            self.state = "idle"
            return
        if reply.kind not in ("ok", "accepted"):
            self._fail_join(f"join refused: {reply.text}")
            return
        self._join_ok = False
        self.state = "joining"
        self._deadline = self.clock.monotonic() + self.cfg.join_timeout_s

    def _on_line(self, line: Line) -> None:
        if line.kind == "downlink" and line.port is not None and line.data is not None:
            if line.port == self.cfg.config_port:
                self._inbound.append(("compact", line.data))
            return
        if self.state == "joining":
            if line.kind == "joined":
                self._join_ok = True
                if self.dialect.name == "rak3172":
                    self.state = "idle"
                    self._backoff = self.cfg.join_retry_s
            elif line.kind == "join_failed":
                if self.dialect.name == "rak3172":
                    self._fail_join(line.text)
            elif line.kind == "done":  # Wio-E5 ends every join with Done
                if self._join_ok:
                    self.state = "idle"
                    self._backoff = self.cfg.join_retry_s
                else:
                    self._fail_join("join failed")
        elif self.state == "sending":
            if line.kind == "tx_done" and not self._confirmed:
                self._finish(True)
            elif line.kind == "confirmed_ok":
                self._finish(True)
            elif line.kind == "confirmed_failed":
                self._finish(False)
            elif line.kind == "ack_seen":
                self._ack_seen = True
            elif line.kind == "done":  # Wio-E5
                self._finish(self._ack_seen or not self._confirmed)
            elif line.kind == "tx_done" and self._confirmed:
                pass  # RUI3 may print TX_DONE before the confirmation result
        elif line.kind not in ("info", "unknown", "tx_done", "done"):
            log.debug("LoRa: unexpected %r in state %s", line.text, self.state)

    def up(self) -> bool:
        return self.state in ("idle", "sending")

    def ready(self) -> bool:
        return self.state == "idle" and self.budget.duty_ok()

    def in_flight(self) -> set[str]:
        return {self._sending.id} if self._sending is not None else set()

    def max_payload(self) -> int:
        limit = MAX_PAYLOAD[self.cfg.region][self._dr] or 0
        return min(limit, MAX_LORA_PAYLOAD)

    def send(self, msg: Message, confirmed: bool) -> None:
        data = msg.lora or b""
        if not data or len(data) > self.max_payload() or msg.lora_port is None:
            log.error("LoRa: message %s (%d bytes) cannot go at DR%d: dropped from LoRa", msg.id,
                      len(data), self._dr)
            self.refused.append(msg.id)
            self._results.append((msg.id, "refused"))
            return
        cmds = self.dialect.send_cmds(msg.lora_port, data, confirmed)
        for cmd in cmds[:-1]:
            reply, _ = self.link.command(cmd, self.cfg.command_timeout_s)
            if reply.kind not in ("ok", "value"):
                self._results.append((msg.id, "retry"))
                self._down(f"{cmd} → {reply.text}", BUSY_RETRY_S)
                return
        reply, _ = self.link.command(cmds[-1], self.cfg.command_timeout_s)
        if reply.kind in ("ok", "accepted"):
            at = dr_airtime_s(len(data), self._dr)
            self.budget.spend(at)
            self.sent += 1
            self.bytes_max = max(self.bytes_max, len(data))
            self._sending = msg
            self._confirmed = confirmed
            self._ack_seen = False
            self.state = "sending"
            self._deadline = self.clock.monotonic() + tx_timeout_s(len(data), self._dr, confirmed)
            return
        self._results.append((msg.id, "retry"))
        if reply.kind == "no_join":
            self._join_ok = False
            self.state = "check"
        elif reply.kind == "duty":
            wait = (reply.wait_ms or 0) / 1000.0
            self.budget.next_tx = max(self.budget.next_tx, self.clock.monotonic() + max(wait, 1.0))
        elif reply.kind == "busy":
            self.budget.next_tx = max(self.budget.next_tx, self.clock.monotonic() + BUSY_RETRY_S)
        elif reply.kind == "error":
            log.error("LoRa: modem refused %s: %s", msg.id, reply.text)
            self.refused.append(msg.id)
            self._results[-1] = (msg.id, "refused")  # a payload the modem rejects is never retried
        else:
            self._down(reply.text, min(self._backoff, 600.0))

    def results(self) -> list[tuple[str, str]]:
        """(message id, "ok" | "retry" | "refused") since the last call."""
        out, self._results = self._results, []
        return out

    def inbound(self) -> list[tuple[str, bytes]]:
        out, self._inbound = self._inbound, []
        return out

    def close(self) -> None:
        self.link.ser.close()
