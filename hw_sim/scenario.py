"""Scenario files: what happens in front of the simulated camera, and when.

A scenario is one TOML file (format in hw_sim/scenarios/README.md). `load_scenario` checks it
fully (unknown keys, ranges, species names, times inside the scenario) and raises
`ScenarioError` whose lines name each bad key, the value given and what is allowed.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from firmware.clock import parse_hhmm
from firmware.config import describe_errors, read_toml

# The firmware's classes (../shared/DESIGN.md); `truth` in reports is one of these.
FIRMWARE_CLASSES = (
    "amur_leopard", "tiger", "lynx", "leopard_cat", "deer", "wild_boar", "bear", "badger",
    "canid", "mustelid", "hare", "bird", "other_animal", "human", "vehicle", "blank",
)
# Bodies a PIR sees (warm). Every class but blank is warm (a vehicle's engine too).
WARM_CLASSES = frozenset(FIRMWARE_CLASSES) - {"blank"}


class ScenarioError(ValueError):
    """A scenario file that cannot be played; `problems` holds one line per problem."""

    def __init__(self, source: str, problems: list[str]):
        self.source = source
        self.problems = problems
        super().__init__(f"invalid scenario {source}: " + "; ".join(problems))


class _Item(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _hhmm(v: str) -> str:
    parse_hhmm(v)
    return v


class Site(_Item):
    """The place and the camera's view. Times are local to the `start` time's UTC offset."""

    sunrise: str = Field("08:00", description="Local sunrise 'HH:MM'.")
    sunset: str = Field("17:00", description="Local sunset 'HH:MM'.")
    twilight_min: float = Field(
        40.0, ge=1, le=180, description="Minutes from sunset to full night (and night to sunrise).")
    max_lux: float = Field(30000.0, ge=100, le=120000, description="Ambient light at solar noon, clear sky.")
    night_lux: float = Field(0.05, ge=0, le=5, description="Ambient light at night (moon, sky glow).")
    hfov_deg: float = Field(
        66.0, ge=20, le=140, description="Horizontal field of view (Camera Module 3: 66, wide: 102).")
    pir_range_m: float = Field(10.0, ge=1, le=30, description="Distance within which the PIR sees a warm body.")
    pir_cone: tuple[float, float] = Field(
        (0.25, 0.75), description="Part of the frame width [x0, x1] the PIR's cone covers.")
    pir_hold_s: float = Field(
        2.0, ge=0.1, le=30, description="PIR output stays high this long after the last motion (HC-SR501).")
    vegetation: int = Field(6, ge=0, le=40, description="Vegetation patches that sway in the wind.")
    trunks: int = Field(5, ge=0, le=20, description="Tree trunks in the background.")
    snow_ground: bool = Field(False, description="Snow lies on the ground (brighter floor).")

    @field_validator("sunrise", "sunset")
    @classmethod
    def _local_time(cls, v: str) -> str:
        return _hhmm(v)

    @model_validator(mode="after")
    def _order(self) -> "Site":
        if self.pir_cone[0] >= self.pir_cone[1] or not (0 <= self.pir_cone[0] and self.pir_cone[1] <= 1):
            raise ValueError("pir_cone must be [x0, x1] with 0 <= x0 < x1 <= 1")
        if _minutes(self.sunrise) >= _minutes(self.sunset):
            raise ValueError("sunrise must be before sunset")
        return self


def _minutes(hhmm: str) -> int:
    h, m = parse_hhmm(hhmm)
    return 60 * h + m


class Animal(_Item):
    """A warm body walking a path through (or near) the frame."""

    species: str = Field(description="Firmware class (amur_leopard, deer, wild_boar, human, ...).")
    at: float = Field(ge=0, description="Seconds since start when it is at the first point of its path.")
    path: list[list[float]] = Field(
        min_length=2,
        description="Points [x, y] or [x, y, distance_m]: x, y are fractions of the frame (the feet; "
        "x < 0 or > 1 is outside the frame).",
    )
    distance_m: float = Field(6.0, gt=0.5, le=60, description="Distance from the camera where a point gives none.")
    speed_mps: float = Field(1.0, gt=0.05, le=15, description="Walking speed along the path, m/s.")
    pause_at: float = Field(0.5, ge=0, le=1, description="Where along the path it pauses (fraction).")
    pause_s: float = Field(0.0, ge=0, le=600, description="How long it stands still there.")
    sprite: str = Field(
        "", description="Sprite id from hw_sim/sprites/index.toml (default: chosen by species and light).")
    length_m: float | None = Field(None, gt=0.05, le=10, description="Body length (default: the sprite's).")

    @field_validator("species")
    @classmethod
    def _species(cls, v: str) -> str:
        if v not in WARM_CLASSES:
            raise ValueError(f"unknown species; one of {', '.join(sorted(WARM_CLASSES))}")
        return v

    @field_validator("path")
    @classmethod
    def _points(cls, v: list[list[float]]) -> list[list[float]]:
        for p in v:
            if len(p) not in (2, 3):
                raise ValueError("each point is [x, y] or [x, y, distance_m]")
            if not (-1.5 <= p[0] <= 2.5 and 0 <= p[1] <= 1.2):
                raise ValueError("x must be in -1.5..2.5 and y (feet) in 0..1.2, as fractions of the frame")
            if len(p) == 3 and not (0.5 < p[2] <= 60):
                raise ValueError("distance_m in a point must be in 0.5..60")
        return v


class Wind(_Item):
    """A gust that sways the vegetation; with `pir = true` it also fires the PIR (warm air)."""

    at: float = Field(ge=0, description="Seconds since start.")
    duration_s: float = Field(10.0, gt=0, le=3600, description="How long the gust lasts.")
    strength: float = Field(0.5, ge=0, le=1, description="0 calm .. 1 storm (sway amplitude).")
    pir: bool = Field(False, description="The gust also fires the PIR (cause 'warm_gust').")


class Cloud(_Item):
    """A cloud over the sun: the light drops in `ramp_s` (a jump), stays, comes back."""

    at: float = Field(ge=0, description="Seconds since start.")
    duration_s: float = Field(60.0, gt=0, le=86400, description="How long the sun is covered.")
    factor: float = Field(0.3, gt=0, le=1, description="Light under the cloud as a share of the sunlight.")
    ramp_s: float = Field(1.0, ge=0, le=600, description="How fast the light drops and returns.")


class PirFalse(_Item):
    """A PIR window with no pixel motion (sun-warmed rock, warm gust)."""

    at: float = Field(ge=0, description="Seconds since start when the output goes high.")
    duration_s: float = Field(3.0, gt=0, le=600, description="How long it stays high.")
    cause: str = Field("sun_warmed_rock", pattern=r"^[a-z0-9_]{1,40}$", description="Name in the PIR window's cause.")


class Snow(_Item):
    """Falling snow (deterministic flakes per frame)."""

    at: float = Field(ge=0, description="Seconds since start.")
    duration_s: float = Field(600.0, gt=0, le=86400, description="How long it snows.")
    intensity: float = Field(0.5, gt=0, le=1, description="0 .. 1: flakes on screen (1 ≈ 1500).")


class Replay(_Item):
    """Real footage shown full frame during [at, at + duration_s]: a video or an image burst."""

    at: float = Field(ge=0, description="Seconds since start.")
    duration_s: float = Field(gt=0, le=600, description="How long it is shown.")
    file: str = Field("", description="Video (.mp4/.avi/...) relative to the realdata folder.")
    files: list[str] = Field(default_factory=list, description="Image burst, relative to the realdata folder.")
    interval_s: float = Field(1.0, gt=0, le=60, description="Seconds each burst image is shown.")
    clip_start_s: float = Field(0.0, ge=0, description="Where in the video to start.")
    truth: str = Field(description="Firmware class the footage shows (from the media's label).")
    pir: bool | None = Field(None, description="Fire the PIR while it plays (default: truth is not blank).")

    @field_validator("truth")
    @classmethod
    def _truth(cls, v: str) -> str:
        if v not in FIRMWARE_CLASSES:
            raise ValueError(f"unknown class; one of {', '.join(FIRMWARE_CLASSES)}")
        return v

    @model_validator(mode="after")
    def _one_source(self) -> "Replay":
        if bool(self.file) == bool(self.files):
            raise ValueError("give either `file` (a video) or `files` (an image burst)")
        return self


class Unit(_Item):
    """The unit's own parts as the simulator plays them: SD card, battery, CPU."""

    disk_mb: float | None = Field(
        None, ge=8, le=2_000_000,
        description="Size of the simulated card's data partition, MB (every file in the data dir "
        "counts); none: the real disk's free space.")
    battery_start_v: float = Field(13.2, ge=0, le=60, description="Battery voltage at the start, V.")
    battery_drain_v_per_day: float = Field(
        0.05, ge=0, le=100, description="Linear voltage drop per simulated day, V.")
    cpu_temp_c: float | None = Field(
        45.0, ge=-40, le=110, description="CPU temperature the thermometer reads; none: no thermometer.")


class CameraStall(_Item):
    """The camera stops delivering frames (a wedged CSI link, a libcamera fault)."""

    at: float = Field(ge=0, description="Seconds since start.")
    duration_s: float = Field(
        7 * 86400, gt=0, le=7 * 86400, description="How long no frames come (default: for good).")


class _Body(_Item):
    name: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$", description="Scenario name (letters, digits, _ . -).")
    description: str = Field("", description="What the scenario exercises.")
    start: dt.datetime = Field(description="ISO 8601 start time with a UTC offset or zone.")
    duration_s: float = Field(gt=0, le=7 * 86400, description="Length of the scenario in simulated seconds.")
    seed: int = Field(0, ge=0, le=2**32 - 1, description="Seed of everything random in the world.")
    site: Site = Field(default_factory=Site)
    config: dict[str, Any] = Field(default_factory=dict, description="Firmware config overrides.")
    coverage: dict[str, Any] = Field(default_factory=dict, description="Uplink coverage windows (passed through).")
    animal: list[Animal] = Field(default_factory=list)
    wind: list[Wind] = Field(default_factory=list)
    cloud: list[Cloud] = Field(default_factory=list)
    pir_false: list[PirFalse] = Field(default_factory=list)
    snow: list[Snow] = Field(default_factory=list)
    replay: list[Replay] = Field(default_factory=list)
    unit: Unit = Field(default_factory=Unit, description="The unit's card, battery and CPU.")
    camera_stall: list[CameraStall] = Field(default_factory=list)

    @field_validator("start", mode="before")
    @classmethod
    def _start(cls, v: Any) -> Any:
        if isinstance(v, str):
            try:
                v = dt.datetime.fromisoformat(v)
            except ValueError:
                raise ValueError("expected ISO 8601, e.g. 2024-01-15T17:30:00+10:00") from None
        if isinstance(v, dt.datetime) and v.tzinfo is None:
            raise ValueError("the start time needs a UTC offset, e.g. 2024-01-15T17:30:00+10:00")
        return v

    @model_validator(mode="after")
    def _inside(self) -> "_Body":
        for kind in ("animal", "wind", "cloud", "pir_false", "snow", "replay", "camera_stall"):
            for i, item in enumerate(getattr(self, kind)):
                if item.at >= self.duration_s:
                    raise ValueError(f"{kind}[{i}].at = {item.at} is not before duration_s = {self.duration_s}")
        return self


@dataclass
class Scenario:
    name: str
    description: str
    start_epoch: float
    duration_s: float
    seed: int
    config: dict
    coverage: dict
    raw: dict
    utc_offset_s: float = 0.0
    site: Site = field(default_factory=Site)
    animals: list[Animal] = field(default_factory=list)
    winds: list[Wind] = field(default_factory=list)
    clouds: list[Cloud] = field(default_factory=list)
    pir_false: list[PirFalse] = field(default_factory=list)
    snow: list[Snow] = field(default_factory=list)
    replays: list[Replay] = field(default_factory=list)
    unit: Unit = field(default_factory=Unit)
    camera_stalls: list[CameraStall] = field(default_factory=list)
    source: str = "<scenario>"

    def local_hours(self, t: float) -> float:
        """Local clock time (hours, 0..24) at t seconds since the start."""
        return ((self.start_epoch + self.utc_offset_s + t) / 3600.0) % 24.0


def _describe(err: ValidationError) -> list[str]:
    # pydantic's loc for list items is ('animal', 2, 'speed_mps'): write it as animal[2].speed_mps
    lines = describe_errors(err)
    out = []
    for line in lines:
        parts = line.split(" = ", 1)[0].split(".")
        key = ""
        for p in parts:
            key += f"[{p}]" if p.isdigit() else (f".{p}" if key else p)
        out.append(key + line[len(".".join(parts)):])
    return out


def parse_scenario(data: dict[str, Any], source: str = "<scenario>") -> Scenario:
    try:
        body = _Body.model_validate(data)
    except ValidationError as err:
        raise ScenarioError(source, _describe(err)) from None
    offset = body.start.utcoffset() or dt.timedelta(0)
    return Scenario(
        name=body.name, description=body.description, start_epoch=body.start.timestamp(),
        duration_s=body.duration_s, seed=body.seed, config=body.config, coverage=body.coverage,
        raw=data, utc_offset_s=offset.total_seconds(), site=body.site, animals=body.animal,
        winds=body.wind, clouds=body.cloud, pir_false=body.pir_false, snow=body.snow,
        replays=body.replay, unit=body.unit, camera_stalls=body.camera_stall, source=source,
    )


def load_scenario(path: Path) -> Scenario:
    return parse_scenario(read_toml(Path(path), ScenarioError), str(path))
