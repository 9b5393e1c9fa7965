"""LoRaWAN AT modems on a UART: line I/O and the two dialects (RAK3172 RUI3, Seeed Wio-E5).

`ModemLink` reads whole lines, never a fixed count: a command's immediate reply is read until a
terminal line (`OK`, an error, `+MSGHEX: Start`, ...) or a timeout; asynchronous lines that come
meanwhile (`+EVT:...`) are kept for `poll()`. Any byte sequence from the modem is tolerated:
undecodable bytes, over-long lines and unknown lines become `Line("unknown")`, never an exception.
"""
from __future__ import annotations

import collections
import logging
import re
import time
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)

MAX_LINE = 512


@dataclass(frozen=True)
class Line:
    """A classified modem line.

    kind: ok | error | busy | no_join | duty | accepted (command taken, result comes later) |
          value | joined | join_failed | tx_done | confirmed_ok | confirmed_failed | ack_seen |
          downlink | done | info | unknown
    """

    kind: str
    text: str
    port: int | None = None
    data: bytes | None = None
    value: str | None = None
    wait_ms: int | None = None


def _hex(s: str) -> bytes | None:
    if len(s) % 2 or not re.fullmatch(r"[0-9A-Fa-f]*", s):
        return None
    return bytes.fromhex(s)


BANDS_RAK = {"EU868": 4, "RU864": 2, "AS923": 8}


class Rak3172:
    name = "rak3172"
    baud = 115200
    _errors = {"AT_BUSY_ERROR": "busy", "AT_NO_NETWORK_JOINED": "no_join", "AT_PARAM_ERROR": "error",
               "AT_ERROR": "error", "AT_TEST_PARAM_OVERFLOW": "error", "AT_NO_CLASSB_ENABLE": "error",
               "AT_RX_ERROR": "error", "AT_MODE_NO_SUPPORT": "error", "AT_COMMAND_NOT_FOUND": "error"}

    def setup_cmds(self, region: str, dr: int, dev_eui: str | None, app_eui: str | None,
                   app_key: str | None) -> list[str]:
        cmds = ["AT+NJM=1", f"AT+BAND={BANDS_RAK[region]}", "AT+ADR=0", f"AT+DR={dr}"]
        if dev_eui:
            cmds.append(f"AT+DEVEUI={dev_eui}")
        if app_eui:
            cmds.append(f"AT+APPEUI={app_eui}")
        if app_key:
            cmds.append(f"AT+APPKEY={app_key}")
        return cmds

    def dr_cmd(self, dr: int) -> str:
        return f"AT+DR={dr}"

    def joined_cmd(self) -> str | None:
        return "AT+NJS=?"

    def join_cmd(self) -> str:
        return "AT+JOIN=1:0:10:1"

    def send_cmds(self, port: int, data: bytes, confirmed: bool) -> list[str]:
        return [f"AT+CFM={1 if confirmed else 0}", f"AT+SEND={port}:{data.hex().upper()}"]

    def classify(self, text: str) -> Line:
        if text == "OK":
            return Line("ok", text)
        if text in self._errors:
            return Line(self._errors[text], text)
        if text.startswith("+EVT:"):
            body = text[5:]
            if body == "JOINED":
                return Line("joined", text)
            if body.startswith("JOIN_FAILED"):
                return Line("join_failed", text)
            if body == "TX_DONE":
                return Line("tx_done", text)
            if body == "SEND_CONFIRMED_OK":
                return Line("confirmed_ok", text)
            if body.startswith("SEND_CONFIRMED_FAILED"):
                return Line("confirmed_failed", text)
            m = re.fullmatch(r"RX_(?:1|2|B|C):(-?\d+):(-?\d+):(?:UNICAST|MULTICAST):(\d{1,3}):([0-9A-Fa-f]*)", body)
            if m:
                data = _hex(m.group(4))
                if data is not None:
                    return Line("downlink", text, port=int(m.group(3)), data=data)
            return Line("info", text)
        m = re.fullmatch(r"AT\+([A-Z]+)=(.*)", text)
        if m:
            return Line("value", text, value=m.group(2))
        return Line("unknown", text)

    def is_reply(self, line: Line) -> bool:
        return line.kind in ("ok", "error", "busy", "no_join")

    def joined_value(self, values: list[Line]) -> bool | None:
        for v in values:
            if v.text.startswith("AT+NJS="):
                return v.value == "1"
        return None


BANDS_WIO = {"EU868": "EU868", "RU864": "RU864", "AS923": "AS923"}


class WioE5:
    name = "wio-e5"
    baud = 9600

    def setup_cmds(self, region: str, dr: int, dev_eui: str | None, app_eui: str | None,
                   app_key: str | None) -> list[str]:
        cmds = ["AT+MODE=LWOTAA", f"AT+DR={BANDS_WIO[region]}", "AT+ADR=OFF", f"AT+DR={dr}"]
        if dev_eui:
            cmds.append(f'AT+ID=DevEui,"{dev_eui}"')
        if app_eui:
            cmds.append(f'AT+ID=AppEui,"{app_eui}"')
        if app_key:
            cmds.append(f'AT+KEY=APPKEY,"{app_key}"')
        return cmds

    def dr_cmd(self, dr: int) -> str:
        return f"AT+DR={dr}"

    def joined_cmd(self) -> str | None:
        return None

    def join_cmd(self) -> str:
        return "AT+JOIN"

    def send_cmds(self, port: int, data: bytes, confirmed: bool) -> list[str]:
        verb = "CMSGHEX" if confirmed else "MSGHEX"
        return [f"AT+PORT={port}", f'AT+{verb}="{data.hex().upper()}"']

    def classify(self, text: str) -> Line:
        m = re.fullmatch(r"\+([A-Z]+): ?(.*)", text)
        if not m:
            return Line("unknown", text)
        cmd, body = m.group(1), m.group(2).strip()
        if "ERROR" in body:
            return Line("error", text)
        if body == "LoRaWAN modem is busy":
            return Line("busy", text)
        if body == "Please join network first":
            return Line("no_join", text)
        nb = re.fullmatch(r"No band in (\d+)ms", body)
        if nb:
            return Line("duty", text, wait_ms=int(nb.group(1)))
        if body == "No free channel":
            return Line("duty", text, wait_ms=0)
        if cmd == "JOIN":
            if body == "Start":
                return Line("accepted", text)
            if body in ("Network joined", "Joined already"):
                return Line("joined", text)
            if body == "Join failed":
                return Line("join_failed", text)
            if body == "Done":
                return Line("done", text)
            return Line("info", text)
        if cmd in ("MSGHEX", "CMSGHEX"):
            if body == "Start":
                return Line("accepted", text)
            if body == "Done":
                return Line("done", text)
            if body == "ACK Received":
                return Line("ack_seen", text)
            rx = re.fullmatch(r'PORT: ?(\d{1,3}); ?RX: ?"([0-9A-Fa-f]*)"', body)
            if rx:
                data = _hex(rx.group(2))
                if data is not None:
                    return Line("downlink", text, port=int(rx.group(1)), data=data)
            return Line("info", text)
        return Line("value", text, value=body)

    def is_reply(self, line: Line) -> bool:
        return line.kind in ("value", "accepted", "error", "busy", "no_join", "duty", "ok")

    def joined_value(self, values: list[Line]) -> bool | None:
        return None


DIALECTS = {"rak3172": Rak3172, "wio-e5": WioE5}


class ModemLink:
    """Lines over a pyserial port (opened by the caller, any timeout)."""

    def __init__(self, ser: Any, dialect: Rak3172 | WioE5):
        self.ser = ser
        self.dialect = dialect
        self._buf = bytearray()
        self._pending: collections.deque[Line] = collections.deque()
        self.discarded = 0  # over-long or undecodable garbage, for health

    def _feed(self, chunk: bytes) -> list[Line]:
        out = []
        self._buf += chunk
        while True:
            nl = self._buf.find(b"\n")
            if nl < 0:
                if len(self._buf) > MAX_LINE:
                    self.discarded += 1
                    self._buf.clear()
                break
            raw = bytes(self._buf[:nl])
            del self._buf[:nl + 1]
            text = raw.decode("ascii", errors="replace").strip("\r\x00 \t")
            if not text:
                continue
            if len(text) > MAX_LINE:
                self.discarded += 1
                continue
            out.append(self.dialect.classify(text))
        return out

    def _read_now(self) -> list[Line]:
        n = self.ser.in_waiting
        return self._feed(self.ser.read(n)) if n else []

    def write(self, cmd: str) -> None:
        self.ser.write(cmd.encode("ascii") + b"\r\n")
        self.ser.flush()

    def command(self, cmd: str, timeout_s: float) -> tuple[Line, list[Line]]:
        """Send `cmd`, read until its terminal reply. Returns (reply, value lines before it);
        reply.kind == "timeout" when the modem said nothing conclusive in time."""
        self._pending.extend(self._read_now())
        self.write(cmd)
        values: list[Line] = []
        deadline = time.monotonic() + timeout_s  # UART round trip: real time at the hardware seam
        while True:
            for line in self._read_now() or self._read_blocking(deadline):
                if line.kind == "value" and isinstance(self.dialect, Rak3172):
                    values.append(line)
                elif self.dialect.is_reply(line):
                    # Wio-E5 answers settings with a value line: it is the reply
                    return line, values
                else:
                    self._pending.append(line)
            if time.monotonic() >= deadline:
                return Line("timeout", f"no reply to {cmd.split('=')[0]} in {timeout_s:.1f} s"), values

    def _read_blocking(self, deadline: float) -> list[Line]:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return []
        self.ser.timeout = min(0.05, remaining)
        data = self.ser.read(1)
        return self._feed(data) if data else []

    def poll(self) -> list[Line]:
        """Lines that arrived since the last call (non-blocking)."""
        out = list(self._pending)
        self._pending.clear()
        return out + self._read_now()
