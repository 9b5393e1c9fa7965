"""Keep/alert/discard rules, including the leopard doubt rule and the keep-all fallback."""
from __future__ import annotations

from firmware.classify.config import PolicyConfig
from firmware.classify.policy import decide
from firmware.classify.taxonomy import FIRMWARE_CLASSES
from firmware.classify.verdict import Verdict, aggregate, label_of

import numpy as np


def verdict(scores: dict[str, float], target: float = 0.0) -> Verdict:
    full = {c: scores.get(c, 0.0) for c in FIRMWARE_CLASSES}
    label, score = label_of(np.array([full[c] for c in FIRMWARE_CLASSES]))
    return Verdict(label=label, score=score, scores=full, target_score=target, model="m1")


P = PolicyConfig()


def test_leopard_is_kept_and_alerted():
    d = decide(verdict({"amur_leopard": 0.8, "blank": 0.2}, 0.8), True, "moved", P)
    assert (d.decision, d.alert, d.model) == ("kept", True, "m1")


def test_doubt_rule_keeps_weak_leopard_evidence_even_when_blank_wins():
    v = verdict({"blank": 0.9, "deer": 0.04}, target=0.06)
    assert v.label == "blank"
    d = decide(v, True, "moved", P)
    assert d.decision == "kept" and d.alert and "doubt" in d.reason
    assert decide(v, True, "moved", P.model_copy(update={"target_doubt": 0.1})).decision == "discarded"


def test_blank_needs_the_classifier_and_the_motion_check():
    assert decide(verdict({"blank": 0.9, "deer": 0.1}), True, "moved", P).decision == "discarded"
    # a blank call under blank_min does not outweigh a motion-confirmed object
    unsure = decide(verdict({"blank": 0.7, "deer": 0.3}), True, "moved", P)
    assert unsure.decision == "kept" and unsure.reason.startswith("uncertain")
    assert decide(verdict({"deer": 0.7, "blank": 0.3}), False, "light jump", P).decision == "discarded"
    assert decide(verdict({"deer": 0.7, "blank": 0.3}), True, "moved", P).decision == "kept"


def test_an_object_that_crossed_the_frame_outweighs_a_blank_call():
    v = verdict({"blank": 0.9, "human": 0.1})
    crossed = decide(v, True, "object in 14/139 frames, travel 0.35", P, travel=0.35)
    assert crossed.decision == "kept" and "crossed the frame" in crossed.reason
    assert decide(v, True, "moved a little", P, travel=0.1).decision == "discarded"
    assert decide(v, True, "moved", P.model_copy(update={"crossing_travel": 0.0}), travel=0.9).decision == "discarded"
    assert decide(v, False, "light jump", P, travel=0.9).decision == "discarded"  # motion check said no


def test_unconfirmed_motion_with_leopard_evidence_is_kept_unless_configured():
    v = verdict({"amur_leopard": 0.5, "blank": 0.5}, 0.5)
    assert decide(v, False, "light jump", P).decision == "kept"
    off = P.model_copy(update={"keep_unconfirmed_target": False})
    assert decide(v, False, "light jump", off).decision == "discarded"


def test_class_actions_and_min_score():
    human = decide(verdict({"human": 0.8, "blank": 0.2}), True, "moved", P)
    assert human.decision == "kept" and human.alert
    pol = P.model_copy(update={"actions": {**P.actions, "bird": "discard"}})
    assert decide(verdict({"bird": 0.9, "blank": 0.1}), True, "moved", pol).decision == "discarded"
    weak = decide(verdict({"bird": 0.2, "deer": 0.2, "canid": 0.2, "blank": 0.4}), True, "moved", pol)
    assert weak.decision == "kept" and weak.reason.startswith("uncertain")


def test_aggregate_takes_the_median_of_frames():
    def vec(**kw):
        return np.array([kw.get(c, 0.0) for c in FIRMWARE_CLASSES], np.float32)
    frames = [vec(deer=0.9, blank=0.1), vec(deer=0.8, blank=0.2), vec(blank=1.0)]
    v = aggregate(frames, [0.0, 0.3, 0.01], "m", 6)
    assert v.label == "deer" and abs(v.scores["deer"] - 0.8 / 1.0) < 1e-6
    assert v.target_score == 0.3 and v.frames == 3 and v.views == 6
