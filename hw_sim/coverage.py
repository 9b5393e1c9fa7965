"""Coverage windows for the simulator, a simulated MQTT network, and the sim uplink builder.

A scenario's `[coverage]` table (all keys optional; times in simulated seconds since the start):

    [coverage]
    mqtt_period_s = 21600     # MQTT reachable once per period (0 = never) ...
    mqtt_window_s = 600       # ... for this long (a ranger's hotspot passing: 10 min per 6 h)
    mqtt_offset_s = 0         # first window opens here
    lora_sf = [12]            # spreading factors the gateway hears ([] = no gateway)
    lora_loss = 0.0           # chance a hearable uplink is lost anyway
    outages = [[0, 604800]]   # [start, end) spans with nothing reachable (7 days here)
    seed = 1

`build_sim_uplink(config, data_dir, clock, coverage)` gives the firmware's own `Uplink` with a
simulated MQTT network and the RAK3172 simulator (hw_sim.modem, real PTY) as transports, both
on the scenario's SimClock. Its `stats()` is the report's `uplink` block, with `lost` also
counting unconfirmed LoRa uplinks the network never heard and no other transport delivered.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from firmware.uplink.queue import MQTT, Message
from firmware.uplink.service import Uplink

log = logging.getLogger(__name__)

KEYS = {"mqtt_period_s", "mqtt_window_s", "mqtt_offset_s", "lora_sf", "lora_loss", "outages", "seed"}


class CoverageError(ValueError):
    pass


@dataclass(frozen=True)
class Coverage:
    mqtt_period_s: float = 0.0
    mqtt_window_s: float = 600.0
    mqtt_offset_s: float = 0.0
    lora_sf: tuple[int, ...] = ()
    lora_loss: float = 0.0
    outages: tuple[tuple[float, float], ...] = ()
    seed: int = 1

    @classmethod
    def from_spec(cls, spec: dict[str, Any] | None) -> "Coverage":
        spec = dict(spec or {})
        unknown = set(spec) - KEYS
        if unknown:
            raise CoverageError(f"coverage: unknown keys {sorted(unknown)} (allowed: {sorted(KEYS)})")
        c = cls(mqtt_period_s=float(spec.get("mqtt_period_s", 0.0)),
                mqtt_window_s=float(spec.get("mqtt_window_s", 600.0)),
                mqtt_offset_s=float(spec.get("mqtt_offset_s", 0.0)),
                lora_sf=tuple(int(s) for s in spec.get("lora_sf", ())),
                lora_loss=float(spec.get("lora_loss", 0.0)),
                outages=tuple((float(a), float(b)) for a, b in spec.get("outages", ())),
                seed=int(spec.get("seed", 1)))
        if c.mqtt_period_s < 0 or c.mqtt_window_s < 0 or (c.mqtt_period_s and c.mqtt_window_s > c.mqtt_period_s):
            raise CoverageError("coverage: need 0 <= mqtt_window_s <= mqtt_period_s")
        if not 0 <= c.lora_loss <= 1:
            raise CoverageError("coverage.lora_loss must be within 0..1")
        if any(sf not in range(7, 13) for sf in c.lora_sf):
            raise CoverageError("coverage.lora_sf values are spreading factors 7..12")
        if any(b <= a for a, b in c.outages):
            raise CoverageError("coverage.outages are [start, end] with end > start")
        return c

    def _outage(self, t: float) -> bool:
        return any(a <= t < b for a, b in self.outages)

    def mqtt_up(self, t: float) -> bool:
        if self.mqtt_period_s <= 0 or self._outage(t) or t < self.mqtt_offset_s:
            return False
        return (t - self.mqtt_offset_s) % self.mqtt_period_s < self.mqtt_window_s

    def lora_hears(self, sf: int, t: float) -> bool:
        return sf in self.lora_sf and not self._outage(t)


@dataclass
class SimMqttNetwork:
    """A broker reachable only inside coverage windows; acknowledges what it receives.

    Messages are delivered when sent inside a window; a publish whose ack would come after the
    window closed is not acknowledged (the unit resends it, same id, next window)."""

    coverage: Coverage
    clock: Any
    latency_s: float = 0.5
    received: list[tuple[str, str, float]] = field(default_factory=list)  # (id, topic, elapsed)
    inbox: list[bytes] = field(default_factory=list)  # config/set payloads waiting for a window
    name: str = "mqtt"
    bit: int = MQTT
    max_inflight: int = 20

    def __post_init__(self) -> None:
        self._inflight: list[tuple[str, float]] = []
        self._results: list[tuple[str, str]] = []

    def _t(self) -> float:
        return self.clock.elapsed

    def tick(self) -> None:
        t = self._t()
        keep = []
        for msg_id, due in self._inflight:
            if t >= due:
                ok = self.coverage.mqtt_up(due)
                self._results.append((msg_id, "ok" if ok else "retry"))
            else:
                keep.append((msg_id, due))
        self._inflight = keep

    def up(self) -> bool:
        return self.coverage.mqtt_up(self._t())

    def ready(self) -> bool:
        return self.up() and len(self._inflight) < self.max_inflight

    def in_flight(self) -> set[str]:
        return {m for m, _ in self._inflight}

    def send(self, msg: Message, confirmed: bool = True) -> None:
        t = self._t()
        self.received.append((msg.id, msg.topic, t))
        self._inflight.append((msg.id, t + self.latency_s))

    def results(self) -> list[tuple[str, str]]:
        out, self._results = self._results, []
        return out

    def inbound(self) -> list[tuple[str, bytes]]:
        if not self.up() or not self.inbox:
            return []
        out, self.inbox = [("json", p) for p in self.inbox], []
        return out

    def close(self) -> None:
        pass


class SimUplink:
    """The firmware's Uplink on simulated transports; same API for the main loop."""

    def __init__(self, uplink: Uplink, network: SimMqttNetwork | None, modem: Any):
        self.uplink = uplink
        self.network = network
        self.modem = modem
        self._lora_ok: dict[str, tuple[int, bytes]] = {}
        self._mqtt_ok: set[str] = set()
        uplink.on_result = self._on_result

    def _on_result(self, msg: Message, transport: str, status: str) -> None:
        if status != "ok":
            return
        if transport == "mqtt":
            self._mqtt_ok.add(msg.id)
        elif msg.lora is not None:
            self._lora_ok[msg.id] = (msg.lora_port or 0, msg.lora)

    def event(self, ev: Any, alert: bool) -> None:
        self.uplink.event(ev, alert)

    def health(self, snapshot: dict) -> None:
        self.uplink.health(snapshot)

    def set_low_power(self, on: bool) -> None:
        self.uplink.set_low_power(on)

    def tick(self) -> None:
        self.uplink.tick()

    def lost_over_air(self) -> int:
        """Messages finished on LoRa alone whose uplink the network never heard."""
        if self.modem is None:
            return 0
        heard = {(u.port, u.data) for u in self.modem.uplinks if u.heard}
        return sum(1 for mid, key in self._lora_ok.items()
                   if key not in heard and mid not in self._mqtt_ok and self.uplink.queue.get(mid) is None)

    def stats(self) -> dict:
        s = self.uplink.stats()
        s["lost"] += self.lost_over_air()
        return s

    def close(self) -> None:
        self.uplink.close()
        if self.modem is not None:
            self.modem.close()


def build_sim_uplink(config: Any, data_dir: Path, clock: Any, coverage: dict[str, Any] | None,
                     on_remote_config: Any = None) -> SimUplink | None:
    """For the scenario runner: `config` is the unit's Config, `coverage` the scenario's
    `[coverage]` table. None when the config has no uplink."""
    cfg = config.uplink
    if not cfg.enabled:
        return None
    cov = Coverage.from_spec(coverage)
    up = Uplink(cfg, config.device.id, data_dir, clock, transports=[], on_remote_config=on_remote_config,
                root_config=config, timezone=config.device.timezone)
    network = None
    modem = None
    if cfg.mqtt.enabled:
        network = SimMqttNetwork(cov, clock, max_inflight=cfg.mqtt.max_inflight)
        up.add_transport(network)
    if cfg.lora.enabled:
        import serial

        from .modem import ModemSim
        modem = ModemSim(dialect=cfg.lora.modem, clock=clock, loss=cov.lora_loss, seed=cov.seed,
                         coverage=lambda sf: cov.lora_hears(sf, clock.elapsed),
                         duty_cycle=cfg.lora.duty_cycle)
        port = serial.Serial(modem.port, cfg.lora.baud or (115200 if cfg.lora.modem == "rak3172" else 9600),
                             timeout=0)
        up.add_transport(up.make_lora(serial_port=port))
    return SimUplink(up, network, modem)
