"""Configuration of the classifier and the keep/alert/discard policy."""
from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from .taxonomy import BLANK, FIRMWARE_CLASSES

Action = Literal["keep", "alert", "discard"]

DEFAULT_ACTIONS: dict[str, str] = {
    "amur_leopard": "alert", "tiger": "alert", "human": "alert", "vehicle": "alert",
    "blank": "discard",
}


class ClassifierConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool = Field(True, description="Run the species classifier on motion-confirmed events.")
    model_dir: str = Field("models", description="Folder holding model.tflite, labels and taxonomy.")
    model_file: str = Field("model.tflite", min_length=1, description="Model file name inside model_dir.")
    labels_file: str = Field("labels.txt", min_length=1, description="Model output labels, one a line.")
    taxonomy_file: str = Field("taxonomy.csv", min_length=1,
                               description="Model output → firmware class mapping (CSV) inside model_dir.")
    threads: int = Field(2, ge=1, le=8, description="Interpreter threads (Zero 2 W / Pi 4 have 4 cores).")
    frames_per_event: int = Field(
        3, ge=1, le=16, description="Frames of an event classified: the best by object size x sharpness.")
    max_boxes: int = Field(2, ge=0, le=8, description="Largest motion boxes cropped per frame (0: whole frame only).")
    crop_pad: float = Field(0.35, ge=0, le=2,
                            description="Context around a motion box, as a share of its larger side, each side.")
    crop_min_side: float = Field(
        0.25, gt=0, le=1, description="Smallest crop, as a share of the frame's shorter side.")
    whole_frame: bool = Field(True, description="Also classify the whole frame (padded square) of each chosen frame.")
    tiles_without_boxes: bool = Field(
        True, description="A frame with no motion box is also classified as three square tiles.")

    @model_validator(mode="after")
    def _some_view(self) -> "ClassifierConfig":
        if self.max_boxes == 0 and not self.whole_frame:
            raise ValueError("max_boxes = 0 and whole_frame = false leaves nothing to classify")
        return self


class PolicyConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    target_class: str = Field("amur_leopard", description="The species the unit exists for.")
    actions: dict[str, Action] = Field(
        default_factory=lambda: dict(DEFAULT_ACTIONS),
        description="Per firmware class: keep, alert (keep and send an alert) or discard; "
                    "classes not listed are kept.")
    min_score: float = Field(
        0.3, ge=0, le=1,
        description="Score a label needs for its class action; a weaker animal label is kept as uncertain.")
    target_doubt: float = Field(
        0.05, ge=0, le=1,
        description="Doubt rule: target evidence at or above this keeps (and alerts) the event "
                    "whatever class wins.")
    blank_min: float = Field(
        0.8, ge=0, le=1,
        description="Classifier blank score needed to discard a motion-confirmed event as empty "
                    "(high: the motion check has already seen a moving object; losing an animal "
                    "costs more than keeping a blank).")
    crossing_travel: float = Field(
        0.2, ge=0, le=2,
        description="A motion-confirmed object that travelled at least this share of the frame diagonal "
                    "is kept (as uncertain) even when the classifier calls the event blank: a small or "
                    "night-lit animal crossing the frame is what a blank verdict most often misses; "
                    "0 turns the rule off.")
    keep_unconfirmed_target: bool = Field(
        True, description="Keep an event the motion check rejected when the classifier still sees the target.")

    @field_validator("actions")
    @classmethod
    def _known_classes(cls, v: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(v) - set(FIRMWARE_CLASSES))
        if unknown:
            raise ValueError(f"unknown classes {unknown}; allowed: {', '.join(FIRMWARE_CLASSES)}")
        return v

    @model_validator(mode="after")
    def _target_rules(self) -> "PolicyConfig":
        if self.target_class not in FIRMWARE_CLASSES or self.target_class == BLANK:
            raise ValueError(f"target_class must be an animal class of {', '.join(FIRMWARE_CLASSES)}")
        if self.actions.get(self.target_class, "keep") == "discard":
            raise ValueError(f"the target class {self.target_class!r} cannot be discarded")
        if self.target_doubt > self.min_score:
            raise ValueError("target_doubt must not exceed min_score (the doubt rule is the low threshold)")
        return self

    def action(self, cls: str) -> str:
        return self.actions.get(cls, "keep")
