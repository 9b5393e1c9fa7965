"""Configuration of the classifier and the keep/alert/discard policy."""
from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class ClassifierConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool = Field(True, description="Run the species classifier on motion-confirmed events.")
    model_dir: str = Field("models", description="Folder holding model.tflite, labels and taxonomy.")
    threads: int = Field(2, ge=1, le=8, description="Interpreter threads (Zero 2 W / Pi 4 have 4 cores).")


class PolicyConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    target_class: str = Field("amur_leopard", description="The species the unit exists for.")
