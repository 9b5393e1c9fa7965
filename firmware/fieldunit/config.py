"""Configuration of health monitoring, the storage guard and day/night switching."""
from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class StorageConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    quota_mb: float = Field(0, ge=0, description="Most space clips may use, MB; 0 = no quota.")
    min_free_mb: float = Field(200, ge=0, description="Free-space floor on the data partition, MB.")


class HealthConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    battery: str = Field("none", pattern="^(none|mcp3008|ina219|sim)$",
                         description="Battery monitor: none, mcp3008, ina219 (sim in the simulator).")
