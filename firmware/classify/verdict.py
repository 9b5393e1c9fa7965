"""What the classifier says about one event, and how per-view scores are combined."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .taxonomy import BLANK, FIRMWARE_CLASSES


@dataclass(frozen=True)
class Verdict:
    label: str                 # a firmware class
    score: float               # that class's score (0..1)
    scores: dict[str, float]   # every firmware class, summing to 1
    target_score: float        # target evidence (doubt rule), max over the chosen frames
    model: str = ""            # model version that produced it
    frames: int = 0            # frames classified
    views: int = 0             # model runs (crops, whole frames, tiles)
    per_frame: list[dict[str, float]] = field(default_factory=list, repr=False)


def label_of(scores: np.ndarray) -> tuple[str, float]:
    """Blank wins when its mass is at least the mass of all other classes together;
    otherwise the strongest non-blank class."""
    b = FIRMWARE_CLASSES.index(BLANK)
    if scores[b] >= 1.0 - scores[b]:
        return BLANK, float(scores[b])
    masked = scores.copy()
    masked[b] = -1.0
    i = int(np.argmax(masked))
    return FIRMWARE_CLASSES[i], float(scores[i])


def frame_scores(view_scores: np.ndarray, view_evidence: np.ndarray) -> tuple[np.ndarray, float]:
    """One frame from its views: the view with the most non-blank mass speaks for the frame
    (the crop that shows the animal best); target evidence is the max over views."""
    b = FIRMWARE_CLASSES.index(BLANK)
    best = int(np.argmax(1.0 - view_scores[:, b]))
    return view_scores[best], float(view_evidence.max())


def aggregate(frames: list[np.ndarray], evidence: list[float], model: str, views: int) -> Verdict:
    """Event from its chosen frames: per-class median (renormalised), evidence max."""
    stacked = np.stack(frames)
    med = np.median(stacked, axis=0)
    total = float(med.sum())
    med = med / total if total > 0 else np.full_like(med, 1.0 / len(med))
    label, score = label_of(med)
    return Verdict(
        label=label, score=score,
        scores={c: float(s) for c, s in zip(FIRMWARE_CLASSES, med, strict=True)},
        target_score=float(max(evidence)), model=model, frames=len(frames), views=views,
        per_frame=[{c: float(s) for c, s in zip(FIRMWARE_CLASSES, f, strict=True)} for f in frames],
    )
