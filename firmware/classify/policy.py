"""Keep / alert / discard for one event, from the motion check and the classifier's verdict."""
from __future__ import annotations

from dataclasses import dataclass

from .config import PolicyConfig
from .taxonomy import BLANK
from .verdict import Verdict

FALLBACK = "fallback"


@dataclass(frozen=True)
class Decision:
    decision: str      # 'kept' | 'discarded'
    alert: bool
    reason: str
    model: str = ""    # model version, or 'fallback' when no classifier ran


def decide(verdict: Verdict | None, motion_confirmed: bool, motion_reason: str,
           policy: PolicyConfig, travel: float = 0.0) -> Decision:
    """Rules, in order:
    1. No verdict (model missing/broken/disabled): keep every motion-confirmed event, flagged
       model='fallback'; an unconfirmed one is a false trigger.
    2. Doubt rule: target evidence >= target_doubt → kept with an alert, whatever class wins
       (even when the motion check said no, if keep_unconfirmed_target).
    3. Motion check said no → discarded as a false trigger (reason kept).
    4. Classifier blank score >= blank_min → discarded as empty, unless the confirmed object
       crossed the frame (`travel` >= crossing_travel); a weaker blank is kept as uncertain.
    5. The label's class action, when its score >= min_score; a weaker label is kept as uncertain.
    """
    if verdict is None:
        if motion_confirmed:
            return Decision("kept", False, f"no classifier: kept (motion: {motion_reason})", FALLBACK)
        return Decision("discarded", False, f"false trigger: {motion_reason}", FALLBACK)
    model = verdict.model
    target = policy.target_class
    if verdict.target_score >= policy.target_doubt and (motion_confirmed or policy.keep_unconfirmed_target):
        why = (f"{target} {verdict.target_score:.2f}" if verdict.label == target else
               f"{target} doubt {verdict.target_score:.2f} (label {verdict.label} {verdict.score:.2f})")
        return Decision("kept", policy.action(target) == "alert", why, model)
    if not motion_confirmed:
        return Decision("discarded", False, f"false trigger: {motion_reason}", model)
    blank = verdict.scores.get(BLANK, 0.0)
    crossed = policy.crossing_travel > 0 and travel >= policy.crossing_travel
    if blank >= policy.blank_min and crossed:
        return Decision("kept", False, f"uncertain: blank {blank:.2f} but an object crossed the frame "
                                       f"({motion_reason})", model)
    if blank >= policy.blank_min:
        return Decision("discarded", False, f"empty: blank {blank:.2f} (motion: {motion_reason})", model)
    if verdict.label == BLANK:
        # below blank_min the classifier's "nothing there" does not outweigh seen motion
        return Decision("kept", False, f"uncertain: motion ({motion_reason}) but blank {blank:.2f}", model)
    if verdict.score < policy.min_score:
        return Decision("kept", False, f"uncertain: {verdict.label} {verdict.score:.2f}", model)
    action = policy.action(verdict.label)
    if action == "discard":
        return Decision("discarded", False, f"policy discards {verdict.label} {verdict.score:.2f}", model)
    return Decision("kept", action == "alert", f"{verdict.label} {verdict.score:.2f}", model)
