"""Configuration of the uplink (durable queue, MQTT, LoRaWAN)."""
from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class UplinkConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool = Field(False, description="Send events, health and daily summaries.")
