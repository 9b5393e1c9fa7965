"""A LoRaWAN AT modem on a real pseudo-terminal: RAK3172 (RUI3) grammar, optional Wio-E5.

The driver opens `sim.port` with plain pyserial. A thread answers each command at once (OK /
errors, as the modem's UART does); what the radio does later — join accept after 5–6 s,
`+EVT:TX_DONE` after the receive windows, confirmations, downlinks — is scheduled on a clock:
the simulator's `SimClock` (so it happens in simulated time, deterministically: the driver is
blocked waiting for the immediate reply while the event is scheduled) or real timers when no
clock is given. Behaviour knobs: join delay, gateway reachability per spreading factor (coverage
callable), random loss, `AT_BUSY_ERROR` while a transmission is under way, duty-cycle refusals.
"""
from __future__ import annotations

import fcntl
import os
import random
import re
import select
import termios
import threading
import time
import tty
from dataclasses import dataclass, field
from typing import Any, Callable

from firmware.uplink.airtime import DR_TO_SF, RX2_DELAY_S, dr_airtime_s, off_time_s

RAK_BANDS = {2: "RU864", 4: "EU868", 8: "AS923"}


@dataclass
class Uplinked:
    port: int
    data: bytes
    confirmed: bool
    heard: bool  # did the (simulated) network receive it
    at: float  # clock time


@dataclass
class ModemSim:
    dialect: str = "rak3172"
    clock: Any = None  # SimClock (call_later + monotonic) or None for real time
    coverage: Callable[[int], bool] = lambda sf: True  # gateway hears this SF now?
    loss: float = 0.0  # chance an uplink the gateway could hear is lost anyway
    join_delay_s: tuple[float, float] = (5.0, 6.0)
    duty_cycle: float = 0.01
    enforce_duty: bool = True
    seed: int = 1
    uplinks: list[Uplinked] = field(default_factory=list)
    downlinks: list[tuple[int, bytes]] = field(default_factory=list)  # queued for the next RX1
    joined: bool = False
    joins: int = 0
    commands: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)
        self._master, self._slave = os.openpty()
        tty.setraw(self._slave)
        tty.setraw(self._master)
        self.port = os.ttyname(self._slave)
        self._wlock = threading.Lock()
        self._stop = threading.Event()
        self._busy_until = -1.0
        self._next_tx = -1.0
        self.band = 2
        self.dr = 0
        self.cfm = 0
        self.port_wio = 1
        self._thread = threading.Thread(target=self._run, name="modem-sim", daemon=True)
        self._thread.start()

    # --- time ----------------------------------------------------------------------------
    def _now(self) -> float:
        return self.clock.monotonic() if self.clock is not None else time.monotonic()

    def _later(self, delay: float, fn: Callable[[], None]) -> None:
        if self.clock is not None:
            self.clock.call_later(delay, fn)
        else:
            t = threading.Timer(delay, fn)
            t.daemon = True
            t.start()

    # --- I/O -----------------------------------------------------------------------------
    def write_line(self, text: str) -> None:
        self.write_raw(text.encode() + b"\r\n")

    def write_raw(self, data: bytes) -> None:
        """Bytes as the modem would put them on the wire (tests inject garbage here too).

        Called on the driver's thread (scheduled events, tests): returns only once the bytes are
        readable on the driver's side — a PTY hands data over through a kernel work queue, and a
        simulated clock would otherwise run ahead of it."""
        if self._stop.is_set():
            return
        with self._wlock:
            before = self._inq()
            os.write(self._master, data)
            deadline = time.monotonic() + 1.0
            while self._inq() < before + len(data) and time.monotonic() < deadline:
                time.sleep(0.0002)

    def _inq(self) -> int:
        buf = fcntl.ioctl(self._slave, termios.TIOCINQ, b"\0\0\0\0")
        return int.from_bytes(buf, "little")

    def _reply(self, text: str) -> None:
        with self._wlock:
            os.write(self._master, text.encode() + b"\r\n")

    def _run(self) -> None:
        buf = b""
        while not self._stop.is_set():
            r, _, _ = select.select([self._master], [], [], 0.05)
            if not r:
                continue
            try:
                chunk = os.read(self._master, 4096)
            except OSError:
                return
            buf += chunk
            while b"\n" in buf:
                raw, buf = buf.split(b"\n", 1)
                cmd = raw.decode("ascii", errors="replace").strip()
                if cmd:
                    self.commands.append(cmd)
                    for line in self._answer(cmd):
                        self._reply(line)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        for fd in (self._master, self._slave):
            try:
                os.close(fd)
            except OSError:
                pass

    # --- the radio -----------------------------------------------------------------------
    @property
    def sf(self) -> int:
        return DR_TO_SF[self.dr]

    def _heard(self) -> bool:
        return self.coverage(self.sf) and self._rng.random() >= self.loss

    def _join(self) -> None:
        self.joins += 1
        ok = self.coverage(self.sf)
        delay = self._rng.uniform(*self.join_delay_s)

        def done() -> None:
            self.joined = ok
            if self.dialect == "rak3172":
                self.write_line("+EVT:JOINED" if ok else "+EVT:JOIN_FAILED_RX_TIMEOUT")
            else:
                self.write_line("+JOIN: Network joined" if ok else "+JOIN: Join failed")
                self.write_line("+JOIN: Done")
        self._busy_until = self._now() + delay
        self._later(delay, done)

    def _send(self, port: int, data: bytes, confirmed: bool) -> str | None:
        """Start an uplink; returns a refusal kind or None."""
        now = self._now()
        if not self.joined:
            return "no_join"
        if now < self._busy_until:
            return "busy"
        if self.enforce_duty and now < self._next_tx:
            return "duty"
        at = dr_airtime_s(len(data), self.dr)
        self._next_tx = now + at + off_time_s(at, self.duty_cycle)
        heard = self._heard()
        up = Uplinked(port, data, confirmed, heard, self.clock.now() if self.clock is not None else time.time())
        self.uplinks.append(up)
        done_after = at + RX2_DELAY_S + 1.0
        self._busy_until = now + done_after
        downlink = self.downlinks.pop(0) if (heard and self.downlinks) else None
        acked = confirmed and heard and self._rng.random() >= self.loss

        def done() -> None:
            if self.dialect == "rak3172":
                if downlink is not None:
                    self.write_line(f"+EVT:RX_1:-97:7:UNICAST:{downlink[0]}:{downlink[1].hex().upper()}")
                if confirmed:
                    self.write_line("+EVT:SEND_CONFIRMED_OK" if acked else "+EVT:SEND_CONFIRMED_FAILED(4)")
                else:
                    self.write_line("+EVT:TX_DONE")
            else:
                verb = "CMSGHEX" if confirmed else "MSGHEX"
                if acked:
                    self.write_line(f"+{verb}: ACK Received")
                if downlink is not None:
                    self.write_line(f'+{verb}: PORT: {downlink[0]}; RX: "{downlink[1].hex().upper()}"')
                self.write_line(f"+{verb}: Done")
        self._later(done_after, done)
        return None

    # --- grammars ------------------------------------------------------------------------
    def _answer(self, cmd: str) -> list[str]:
        return self._rak(cmd) if self.dialect == "rak3172" else self._wio(cmd)

    def _rak(self, cmd: str) -> list[str]:
        if cmd == "AT":
            return ["OK"]
        m = re.fullmatch(r"AT\+([A-Z]+)(=(.*))?", cmd)
        if not m:
            return ["AT_COMMAND_NOT_FOUND"] if cmd.startswith("AT") else ["AT_ERROR"]
        name, arg = m.group(1), m.group(3)
        if arg == "?":
            values = {"NJS": int(self.joined), "BAND": self.band, "DR": self.dr, "CFM": self.cfm, "NJM": 1}
            if name not in values:
                return ["AT_COMMAND_NOT_FOUND"]
            return [f"AT+{name}={values[name]}", "OK"]
        if name == "BAND":
            if arg not in {str(b) for b in RAK_BANDS}:
                return ["AT_PARAM_ERROR"]
            self.band = int(arg)
            return ["OK"]
        if name == "DR":
            if arg not in {str(d) for d in DR_TO_SF}:
                return ["AT_PARAM_ERROR"]
            self.dr = int(arg)
            return ["OK"]
        if name in ("CFM", "NJM", "ADR"):
            if arg not in ("0", "1"):
                return ["AT_PARAM_ERROR"]
            if name == "CFM":
                self.cfm = int(arg)
            return ["OK"]
        if name in ("DEVEUI", "APPEUI"):
            return ["OK"] if arg and re.fullmatch(r"[0-9A-Fa-f]{16}", arg) else ["AT_PARAM_ERROR"]
        if name == "APPKEY":
            return ["OK"] if arg and re.fullmatch(r"[0-9A-Fa-f]{32}", arg) else ["AT_PARAM_ERROR"]
        if name == "JOIN":
            if not arg or not re.fullmatch(r"[01](:[01](:\d+(:\d+)?)?)?", arg):
                return ["AT_PARAM_ERROR"]
            if self._now() < self._busy_until:
                return ["AT_BUSY_ERROR"]
            if arg.startswith("1"):
                self._join()
            return ["OK"]
        if name == "SEND":
            sm = re.fullmatch(r"(\d{1,3}):([0-9A-Fa-f]*)", arg or "")
            if not sm or not 1 <= int(sm.group(1)) <= 223 or len(sm.group(2)) % 2 or not sm.group(2):
                return ["AT_PARAM_ERROR"]
            data = bytes.fromhex(sm.group(2))
            if len(data) > (51 if self.dr < 3 else 115 if self.dr == 3 else 242):
                return ["AT_PARAM_ERROR"]
            refused = self._send(int(sm.group(1)), data, bool(self.cfm))
            return [{"no_join": "AT_NO_NETWORK_JOINED", "busy": "AT_BUSY_ERROR",
                     "duty": "AT_BUSY_ERROR"}[refused]] if refused else ["OK"]
        return ["AT_COMMAND_NOT_FOUND"]

    def _wio(self, cmd: str) -> list[str]:
        if cmd == "AT":
            return ["+AT: OK"]
        m = re.fullmatch(r"AT\+([A-Z]+)(=(.*))?", cmd)
        if not m:
            return ["+AT: ERROR(-1)"]
        name, arg = m.group(1), m.group(3)
        if name == "MODE":
            return [f"+MODE: {arg}"] if arg == "LWOTAA" else ["+MODE: ERROR(-1)"]
        if name == "DR":
            if arg in ("EU868", "RU864", "AS923"):
                return [f"+DR: {arg}"]
            if arg in {str(d) for d in DR_TO_SF}:
                self.dr = int(arg)
                return [f"+DR: DR{arg}"]
            return ["+DR: ERROR(-1)"]
        if name == "ADR":
            return [f"+ADR: {arg}"]
        if name in ("ID", "KEY"):
            return [f"+{name}: {arg.split(',')[0] if arg else ''}"]
        if name == "PORT":
            if not arg or not arg.isdigit() or not 1 <= int(arg) <= 223:
                return ["+PORT: ERROR(-1)"]
            self.port_wio = int(arg)
            return [f"+PORT: {arg}"]
        if name == "JOIN":
            if self.joined:
                return ["+JOIN: Joined already"]
            if self._now() < self._busy_until:
                return ["+JOIN: LoRaWAN modem is busy"]
            self._join()
            return ["+JOIN: Start", "+JOIN: NORMAL"]
        if name in ("MSGHEX", "CMSGHEX"):
            hm = re.fullmatch(r'"([0-9A-Fa-f]*)"', arg or "")
            if not hm or len(hm.group(1)) % 2:
                return [f"+{name}: ERROR(-1)"]
            now = self._now()
            if self.enforce_duty and self.joined and now >= self._busy_until and now < self._next_tx:
                return [f"+{name}: No band in {int((self._next_tx - now) * 1000)}ms"]
            refused = self._send(self.port_wio, bytes.fromhex(hm.group(1)), name == "CMSGHEX")
            if refused:
                return [f"+{name}: " + {"no_join": "Please join network first", "busy": "LoRaWAN modem is busy",
                                        "duty": "No free channel"}[refused]]
            return [f"+{name}: Start"]
        return [f"+{name}: ERROR(-1)"]
