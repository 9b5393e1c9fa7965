"""The unit's configuration: one TOML file, typed.

Every field has bounds and a description; unknown keys are refused (`extra="forbid"`);
cross-field rules are checked by validators. `load_config` raises `ConfigError`, whose lines
name each problem's key path, the value given and what is allowed.
"""
from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, Callable, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .classify.config import ClassifierConfig, PolicyConfig
from .fieldunit.config import HealthConfig, StorageConfig
from .uplink.config import UplinkConfig


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DeviceConfig(_Section):
    id: str = Field("trailcam-01", pattern=r"^[A-Za-z0-9_-]{1,32}$",
                    description="Unit name used in topics, file names and exports (letters, digits, - and _).")
    timezone: str = Field("Asia/Vladivostok", description="IANA zone for local times (daily epoch, health photo).")


class CameraConfig(_Section):
    main_size: tuple[int, int] = Field((1920, 1080), description="Recorded video size (width, height).")
    lores_size: tuple[int, int] = Field((320, 240), description="Motion-check stream size (width, height); YUV420.")
    fps: float = Field(30.0, ge=1, le=60, description="Frame rate of the recorded video.")
    bitrate: int = Field(4_000_000, ge=200_000, le=25_000_000, description="H.264 bitrate, bits/s.")
    hflip: bool = Field(False, description="Mirror the image horizontally (camera mounted flipped).")
    vflip: bool = Field(False, description="Flip the image vertically (camera mounted upside down).")

    @field_validator("main_size", "lores_size")
    @classmethod
    def _even_size(cls, v: tuple[int, int]) -> tuple[int, int]:
        w, h = v
        if not (64 <= w <= 4608 and 48 <= h <= 2592):
            raise ValueError("width must be 64..4608 and height 48..2592")
        if w % 2 or h % 2:
            raise ValueError("width and height must be even (YUV420)")
        return v

    @model_validator(mode="after")
    def _lores_smaller(self) -> "CameraConfig":
        if self.lores_size[0] > self.main_size[0] or self.lores_size[1] > self.main_size[1]:
            raise ValueError("lores_size must not be larger than main_size")
        return self


class PirConfig(_Section):
    enabled: bool = Field(True, description="Use a PIR sensor.")
    pin: int = Field(17, ge=0, le=27, description="BCM GPIO pin of the PIR output.")
    active_high: bool = Field(True, description="PIR output is high on motion (HC-SR501, AM312).")


class TriggerConfig(_Section):
    source: Literal["pir", "motion", "either"] = Field(
        "pir", description="What opens an event: the PIR, pixel motion in the lores watch, or either.")
    watch_interval_s: float = Field(
        0.0, ge=0, le=60,
        description="Seconds between lores frames while idle (the slow motion watch); 0 = off.")

    @model_validator(mode="after")
    def _watch_needed(self) -> "TriggerConfig":
        if self.source in ("motion", "either") and self.watch_interval_s == 0:
            raise ValueError("source 'motion' or 'either' needs watch_interval_s > 0 (e.g. 1.0)")
        return self


class RecorderConfig(_Section):
    pre_roll_s: float = Field(3.0, ge=0, le=10, description="Seconds kept before the trigger (ring buffer).")
    post_roll_s: float = Field(3.0, ge=0, le=30, description="Seconds recorded after the last activity.")
    event_gap_s: float = Field(
        5.0, ge=0, le=120,
        description="A re-trigger within this many seconds of the end extends the same event.")
    max_clip_s: float = Field(60.0, ge=5, le=600, description="Longest clip; an event is cut here.")
    check_fps: float = Field(5.0, ge=0.5, le=30, description="Lores frames per second checked during an event.")

    @model_validator(mode="after")
    def _lengths(self) -> "RecorderConfig":
        if self.pre_roll_s + self.post_roll_s >= self.max_clip_s:
            raise ValueError("pre_roll_s + post_roll_s must be shorter than max_clip_s")
        return self


class MotionConfig(_Section):
    frame_height: int = Field(120, ge=48, le=480, description="Rows the lores luma is scaled to before the check.")
    blur: int = Field(5, ge=1, le=31, description="Gaussian blur kernel (odd) against sensor noise and snow.")
    alpha: float = Field(0.05, gt=0, le=0.5, description="Running-average weight of each new frame in the background.")
    threshold: int = Field(25, ge=1, le=255, description="Grey-level difference that counts as change.")
    dilate: int = Field(2, ge=0, le=10, description="Dilation iterations joining the parts of one animal.")
    min_area: float = Field(0.004, gt=0, lt=1, description="Smallest object, as a share of the frame area.")
    max_area: float = Field(0.6, gt=0, le=1, description="Largest object, as a share of the frame area.")
    light_jump: float = Field(
        0.5, gt=0, le=1,
        description="Share of changed pixels that means a light change (sun, cloud, IR) rather than an animal.")
    min_frames: int = Field(3, ge=1, le=50, description="Frames with an object needed to confirm an event.")
    min_travel: float = Field(
        0.02, ge=0, le=1,
        description="How far (share of frame diagonal) an object's centre must travel to confirm motion.")
    masks: list[list[tuple[float, float]]] = Field(
        default_factory=list,
        description="Ignore masks: polygons of (x, y) points in 0..1 frame coordinates.")

    @field_validator("blur")
    @classmethod
    def _odd(cls, v: int) -> int:
        if v % 2 == 0:
            raise ValueError("blur must be odd (e.g. 5)")
        return v

    @field_validator("masks")
    @classmethod
    def _polygons(cls, v: list[list[tuple[float, float]]]) -> list[list[tuple[float, float]]]:
        for poly in v:
            if len(poly) < 3:
                raise ValueError("a mask polygon needs at least 3 points")
            for x, y in poly:
                if not (0 <= x <= 1 and 0 <= y <= 1):
                    raise ValueError("mask points are fractions of the frame, 0..1")
        return v

    @model_validator(mode="after")
    def _areas(self) -> "MotionConfig":
        if self.min_area >= self.max_area:
            raise ValueError("min_area must be smaller than max_area")
        return self


class IlluminationConfig(_Section):
    ir_cut_pin: int | None = Field(26, ge=0, le=27, description="BCM pin driving the IR-cut filter; none = no filter.")
    ir_led_pin: int | None = Field(18, ge=0, le=27, description="BCM pin (PWM) of the IR LEDs; none = no LEDs.")
    led_brightness: float = Field(0.8, gt=0, le=1, description="IR LED duty cycle while recording at night.")
    dark_lux: float = Field(5.0, ge=0, le=1000, description="Below this light level it is night.")
    light_lux: float = Field(15.0, ge=0, le=5000, description="Above this light level it is day again (hysteresis).")

    @model_validator(mode="after")
    def _hysteresis(self) -> "IlluminationConfig":
        if self.light_lux <= self.dark_lux:
            raise ValueError("light_lux must be above dark_lux (hysteresis)")
        if self.ir_cut_pin is not None and self.ir_cut_pin == self.ir_led_pin:
            raise ValueError("ir_cut_pin and ir_led_pin must differ")
        return self


class PathsConfig(_Section):
    data_dir: str = Field("/var/lib/trailcam", description="Writable folder for clips, thumbnails and databases.")


class SimulatorConfig(_Section):
    scenario: str = Field(
        "", description="Scenario TOML the simulator plays when hardware = 'sim' under `trailcam run`.")
    pace: float = Field(
        1.0, gt=0, le=1000, description="Simulated seconds per wall second under `trailcam run` (1 = real time).")


class Config(_Section):
    """A unit's whole configuration (see deploy/config.example.toml)."""

    hardware: Literal["pi", "sim"] = Field("pi", description="Backends: the Pi's hardware or the simulator.")
    device: DeviceConfig = Field(default_factory=DeviceConfig, description="Identity of the unit.")
    paths: PathsConfig = Field(default_factory=PathsConfig, description="Where data is written.")
    camera: CameraConfig = Field(default_factory=CameraConfig, description="Camera streams and encoder.")
    pir: PirConfig = Field(default_factory=PirConfig, description="PIR sensor.")
    trigger: TriggerConfig = Field(default_factory=TriggerConfig, description="What opens an event.")
    recorder: RecorderConfig = Field(default_factory=RecorderConfig, description="Clip timing.")
    motion: MotionConfig = Field(default_factory=MotionConfig, description="The false-trigger filter.")
    illumination: IlluminationConfig = Field(default_factory=IlluminationConfig, description="Day/night and IR.")
    classifier: ClassifierConfig = Field(default_factory=ClassifierConfig, description="Species classifier.")
    policy: PolicyConfig = Field(default_factory=PolicyConfig, description="Keep / alert / discard per class.")
    storage: StorageConfig = Field(default_factory=StorageConfig, description="Disk quota and free-space floor.")
    health: HealthConfig = Field(default_factory=HealthConfig, description="Battery, temperature, health photo.")
    uplink: UplinkConfig = Field(default_factory=UplinkConfig, description="MQTT and LoRaWAN.")
    simulator: SimulatorConfig = Field(
        default_factory=SimulatorConfig, description="Bench simulator (hardware = 'sim').")

    @model_validator(mode="after")
    def _cross_checks(self) -> "Config":
        if self.hardware == "sim" and not self.simulator.scenario:
            raise ValueError("hardware = 'sim' needs simulator.scenario "
                             "(a scenario TOML, e.g. hw_sim/scenarios/night_leopard.toml)")
        if self.trigger.source == "pir" and not self.pir.enabled:
            raise ValueError("trigger.source is 'pir' but pir.enabled is false: enable the PIR or use 'motion'")
        return self


class ConfigError(Exception):
    """A configuration that cannot be used; `problems` holds one line per problem."""

    def __init__(self, source: str, problems: list[str]):
        self.source = source
        self.problems = problems
        super().__init__(f"{source}: " + "; ".join(problems))

    def __str__(self) -> str:
        lines = [f"invalid configuration {self.source}:"]
        lines += [f"  - {p}" for p in self.problems]
        return "\n".join(lines)


def describe_errors(err: ValidationError) -> list[str]:
    """One line per pydantic error: key path, value given, what is allowed."""
    out = []
    for e in err.errors():
        path = ".".join(str(p) for p in e["loc"]) or "(top level)"
        msg = e["msg"]
        if e["type"] == "extra_forbidden":
            msg = "unknown key: remove it or check its spelling"
        value = e.get("input")
        shown = repr(value) if not isinstance(value, dict) else "{…}"
        if len(shown) > 80:
            shown = shown[:77] + "..."
        out.append(f"{path} = {shown}: {msg}")
    return out


def parse_config(data: dict[str, Any], source: str = "<config>") -> Config:
    try:
        return Config.model_validate(data)
    except ValidationError as err:
        raise ConfigError(source, describe_errors(err)) from None


def read_toml(path: Path, error: Callable[[str, list[str]], Exception]) -> dict[str, Any]:
    """A TOML file as a dict; a missing or malformed file raises `error(source, [problem])`."""
    try:
        return tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise error(str(path), ["file not found"]) from None
    except tomllib.TOMLDecodeError as err:
        raise error(str(path), [f"not valid TOML: {err}"]) from None


def load_config(path: str | Path) -> Config:
    return parse_config(read_toml(Path(path), ConfigError), str(path))
