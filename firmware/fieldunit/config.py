"""Configuration of health monitoring, the storage guard and day/night switching."""
from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ..clock import parse_hhmm


class StorageConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    quota_mb: float = Field(0, ge=0, le=10_000_000,
                            description="Most space clips, thumbnails and health photos may use, MB; 0 = no quota.")
    min_free_mb: float = Field(200, ge=0, le=1_000_000,
                               description="Free-space floor on the data partition, MB.")
    headroom_mb: float = Field(
        20, ge=0, le=10_000,
        description="Extra MB freed beyond the limit when the guard acts, so it does not act on every clip.")
    check_interval_s: float = Field(
        60, ge=1, le=86_400, description="Seconds between storage checks while idle (also checked before each clip).")
    keep_health_photos_days: int = Field(
        30, ge=1, le=3650, description="Daily health photos older than this many days are deleted.")


class HealthConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    battery: str = Field("none", pattern="^(none|mcp3008|ina219|sim)$",
                         description="Battery monitor: none, mcp3008, ina219 (sim in the simulator).")
    mcp3008_channel: int = Field(0, ge=0, le=7, description="MCP3008 input channel wired to the battery divider.")
    mcp3008_vref: float = Field(3.3, gt=0, le=5.5, description="MCP3008 reference voltage, V.")
    divider_ratio: float = Field(
        5.0, ge=1, le=100,
        description="Battery voltage / ADC input voltage (resistor divider before the MCP3008).")
    ina219_bus: int = Field(1, ge=0, le=20, description="I2C bus number of the INA219 (/dev/i2c-N).")
    ina219_address: int = Field(0x40, ge=0x40, le=0x4F, description="I2C address of the INA219 (0x40..0x4F).")
    low_v: float = Field(
        11.8, ge=0, le=60,
        description="Below this battery voltage: low-battery mode (optional uplinks and thumbnail upload stop).")
    critical_v: float = Field(
        11.2, ge=0, le=60,
        description="Below this battery voltage: finish the clip and shut the unit down cleanly.")
    hysteresis_v: float = Field(
        0.2, ge=0, le=5, description="A state is left only when the voltage is this far back above its threshold.")
    confirm_readings: int = Field(
        3, ge=1, le=100,
        description="Consecutive readings needed to change battery state (IR flashes sag the voltage briefly).")
    interval_s: float = Field(60, ge=1, le=86_400, description="Seconds between health readings.")
    thermal_zone: str = Field("/sys/class/thermal/thermal_zone0/temp",
                              description="File with the CPU temperature in millidegrees Celsius.")
    max_cpu_c: float = Field(80, ge=30, le=110, description="CPU temperature reported as too hot, degrees C.")
    fps_window_s: float = Field(10, ge=1, le=600, description="Window over which the camera frame rate is measured.")
    photo_time: str | None = Field(
        "12:00", description="Local time (HH:MM) of the daily health photo; none = no health photo.")

    @field_validator("photo_time")
    @classmethod
    def _hhmm(cls, v: str | None) -> str | None:
        if v is None:
            return v
        try:
            parse_hhmm(v)
        except ValueError:
            raise ValueError("photo_time must be HH:MM, 00:00..23:59 (e.g. '12:00')") from None
        return v

    @model_validator(mode="after")
    def _thresholds(self) -> "HealthConfig":
        if self.critical_v >= self.low_v:
            raise ValueError("critical_v must be below low_v")
        return self

