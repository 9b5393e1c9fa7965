"""Configuration of the uplink (durable queue, MQTT, LoRaWAN, remote configuration).

`enabled = false` (the default) means no uplink at all: a unit without an `[uplink]` table runs.
Secrets (MQTT password, LoRaWAN AppKey) are never in this file: only the name of a file, or of a
systemd credential (`LoadCredential=` → `$CREDENTIALS_DIRECTORY/<name>`), that holds them.
"""
from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

# Keys that may be changed remotely (MQTT `config/set`, LoRa downlink), as dotted prefixes.
# Never: credentials, broker address, TLS files, device identity, paths, hardware, this list.
REMOTE_SETTABLE = (
    "trigger.",
    "recorder.",
    "motion.",
    "illumination.led_brightness",
    "illumination.dark_lux",
    "illumination.light_lux",
    "policy.",
    "storage.",
    "uplink.daily_summary_hour",
    "uplink.mqtt.heartbeat_s",
    "uplink.mqtt.thumbnails",
    "uplink.mqtt.thumbnail_max_bytes",
    "uplink.lora.data_rate",
    "uplink.lora.daily_airtime_s",
    "uplink.lora.alert_reserve_s",
    "uplink.lora.confirm",
    "uplink.lora.health_interval_s",
)


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class QueueConfig(_Section):
    max_messages: int = Field(
        20_000, ge=100, le=1_000_000,
        description="Most messages kept waiting; beyond it the least important are dropped first "
                    "(daily summary, then health, then ordinary events; never a leopard event).")


class MqttConfig(_Section):
    enabled: bool = Field(False, description="Send over MQTT when the broker is reachable.")
    host: str = Field("localhost", min_length=1, max_length=253, description="Broker host name or address.")
    port: int = Field(8883, ge=1, le=65535, description="Broker port (8883 = MQTT over TLS).")
    tls: bool = Field(True, description="Use TLS (required whenever a password is used).")
    ca_file: str | None = Field(None, description="CA certificate (PEM) of the broker; none = system CAs.")
    cert_file: str | None = Field(None, description="Client certificate (PEM) for mutual TLS.")
    key_file: str | None = Field(None, description="Client private key (PEM) for mutual TLS.")
    username: str | None = Field(None, max_length=128, description="MQTT user name.")
    password_file: str | None = Field(
        None, description="File holding the MQTT password (one line). Absolute, or a name looked up "
                          "in $CREDENTIALS_DIRECTORY (systemd LoadCredential=).")
    topic_prefix: str = Field("trailcam", pattern=r"^[A-Za-z0-9_/-]{1,64}$",
                              description="First topic level(s): <prefix>/<device>/...")
    keepalive_s: int = Field(60, ge=10, le=3600, description="MQTT keepalive, seconds.")
    reconnect_min_s: float = Field(1.0, ge=0.1, le=60, description="First reconnect delay, seconds.")
    reconnect_max_s: float = Field(300.0, ge=1, le=3600,
                                   description="Longest reconnect delay (backoff cap), seconds.")
    max_inflight: int = Field(20, ge=1, le=1000, description="Messages published and not yet acknowledged at once.")
    heartbeat_s: float = Field(3600.0, ge=60, le=86400,
                               description="Least time between two status heartbeats, seconds.")
    thumbnails: bool = Field(False, description="Upload each kept event's thumbnail (JPEG) after its event JSON.")
    thumbnail_max_bytes: int = Field(60_000, ge=1_000, le=2_000_000,
                                     description="Thumbnails larger than this are not uploaded.")

    @model_validator(mode="after")
    def _rules(self) -> "MqttConfig":
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("cert_file and key_file go together (mutual TLS): give both or neither")
        if self.password_file and not self.tls:
            raise ValueError("a password is only sent over TLS: set tls = true")
        if self.password_file and not self.username:
            raise ValueError("password_file needs a username")
        if self.reconnect_min_s > self.reconnect_max_s:
            raise ValueError("reconnect_min_s must not exceed reconnect_max_s")
        return self


class LoraConfig(_Section):
    enabled: bool = Field(False, description="Send compact summaries through a LoRaWAN AT modem.")
    modem: Literal["rak3172", "wio-e5"] = Field(
        "rak3172", description="Modem AT dialect: RAK3172 (RUI3) or Seeed Wio-E5.")
    port: str = Field("/dev/serial0", min_length=1, description="Serial device of the modem.")
    baud: int | None = Field(None, ge=1200, le=921600,
                             description="UART speed; none = the modem's default (RAK3172 115200, Wio-E5 9600).")
    region: Literal["RU864", "EU868", "AS923"] = Field("RU864", description="LoRaWAN regional plan.")
    data_rate: int = Field(0, ge=0, le=5, description="Uplink data rate: DR0 = SF12 (longest range) .. DR5 = SF7.")
    dev_eui: str | None = Field(None, pattern=r"^[0-9A-Fa-f]{16}$",
                                description="DevEUI to program (16 hex); none = keep the modem's own.")
    app_eui: str | None = Field(None, pattern=r"^[0-9A-Fa-f]{16}$",
                                description="AppEUI / JoinEUI to program (16 hex); none = keep the modem's.")
    app_key_file: str | None = Field(
        None, description="File (or systemd credential name) holding the AppKey (32 hex); none = keep the modem's.")
    join_timeout_s: float = Field(20.0, ge=8, le=300, description="Longest wait for a join accept, seconds.")
    join_retry_s: float = Field(600.0, ge=30, le=86400,
                                description="First wait before a failed join is retried (doubles, capped at 24 h).")
    command_timeout_s: float = Field(2.0, ge=0.2, le=30,
                                     description="Longest wait for a modem's immediate reply (OK / error).")
    duty_cycle: float = Field(0.01, gt=0, le=1,
                              description="Duty cycle of the band (RU864/EU868 default channels: 1 %).")
    daily_airtime_s: float = Field(30.0, ge=1, le=3600,
                                   description="Uplink airtime allowed per day (TTN fair use: 30 s).")
    alert_reserve_s: float = Field(
        8.0, ge=0, le=3600,
        description="Airtime kept for alerts and the daily summary: other messages are folded into the "
                    "daily summary rather than eat into it.")
    confirm: Literal["alerts", "events", "none"] = Field(
        "alerts", description="Which uplinks ask the network for an acknowledgement (each costs a downlink).")
    health_interval_s: float = Field(21600.0, ge=600, le=7 * 86400,
                                     description="Least time between two health uplinks, seconds.")
    event_port: int = Field(1, ge=1, le=223, description="FPort of event summaries.")
    daily_port: int = Field(2, ge=1, le=223, description="FPort of daily summaries.")
    health_port: int = Field(3, ge=1, le=223, description="FPort of health reports.")
    ack_port: int = Field(4, ge=1, le=223, description="FPort of remote-config acknowledgements.")
    config_port: int = Field(10, ge=1, le=223, description="FPort on which downlinks carry remote configuration.")

    @model_validator(mode="after")
    def _rules(self) -> "LoraConfig":
        ports = [self.event_port, self.daily_port, self.health_port, self.ack_port, self.config_port]
        if len(set(ports)) != len(ports):
            raise ValueError("event_port, daily_port, health_port, ack_port and config_port must all differ")
        if self.region == "AS923" and self.data_rate < 2:
            raise ValueError("AS923 with the dwell-time limit has no DR0/DR1: use data_rate 2..5")
        if self.alert_reserve_s >= self.daily_airtime_s:
            raise ValueError("alert_reserve_s must be smaller than daily_airtime_s")
        return self


class RemoteConfig(_Section):
    enabled: bool = Field(True, description="Accept configuration changes from config/set and LoRa downlinks.")
    allowed: list[str] = Field(
        default_factory=lambda: list(REMOTE_SETTABLE),
        description="Dotted key prefixes that may be changed remotely; must be within the firmware's own list.")

    @model_validator(mode="after")
    def _within(self) -> "RemoteConfig":
        for key in self.allowed:
            if not any(key.startswith(p) or key == p.rstrip(".") for p in REMOTE_SETTABLE):
                raise ValueError(f"{key!r} may never be set remotely (allowed prefixes: {', '.join(REMOTE_SETTABLE)})")
        return self


class UplinkConfig(_Section):
    enabled: bool = Field(False, description="Send events, health and daily summaries.")
    daily_summary_hour: int = Field(0, ge=0, le=23,
                                    description="Local hour after which the previous day's summary is queued.")
    queue: QueueConfig = Field(default_factory=QueueConfig, description="The durable outbound queue.")
    mqtt: MqttConfig = Field(default_factory=MqttConfig, description="MQTT over Wi-Fi/cellular.")
    lora: LoraConfig = Field(default_factory=LoraConfig, description="LoRaWAN through a UART AT modem.")
    remote: RemoteConfig = Field(default_factory=RemoteConfig, description="Remote configuration.")

    @model_validator(mode="after")
    def _transport(self) -> "UplinkConfig":
        if self.enabled and not (self.mqtt.enabled or self.lora.enabled):
            raise ValueError("uplink is enabled but neither mqtt.enabled nor lora.enabled is true")
        return self
