"""The shipped model on the real LiteRT interpreter: self-check, errors, real leopards."""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from conftest import REALDATA, REPO
from firmware.classify.config import ClassifierConfig, PolicyConfig
from firmware.classify.media import read_image
from firmware.classify.policy import decide
from firmware.classify.runtime import Classifier, ModelError
from firmware.classify.taxonomy import FIRMWARE_CLASSES

MODEL_FILES = ("model.tflite", "labels.txt", "taxonomy.csv")


@pytest.fixture(scope="module")
def clf() -> Classifier:
    return Classifier.load(ClassifierConfig(threads=1), REPO)


def copy_model(tmp_path: Path) -> Path:
    d = tmp_path / "models"
    d.mkdir()
    for f in MODEL_FILES:
        shutil.copy(REPO / "models" / f, d / f)
    return d


def test_shipped_model_is_int8_and_small(clf):
    assert clf.input_dtype == "int8"
    assert (REPO / "models" / "model.tflite").stat().st_size <= 6 * 1024 * 1024
    assert clf.version.startswith("model-")


def test_verdict_is_well_formed_on_a_noise_frame(clf):
    rng = np.random.default_rng(1)
    frame = rng.integers(0, 256, (240, 320, 3), dtype=np.uint8)
    v = clf.classify_event([(frame, [(0.3, 0.3, 0.2, 0.2)]), (frame, [])])
    assert set(v.scores) == set(FIRMWARE_CLASSES)
    assert abs(sum(v.scores.values()) - 1) < 1e-4
    assert v.label in FIRMWARE_CLASSES and 0 <= v.target_score <= 1
    assert v.frames == 2 and v.views >= 3


def test_missing_model_is_a_clear_error_and_policy_keeps_all(tmp_path):
    with pytest.raises(ModelError, match="not found"):
        Classifier.load(ClassifierConfig(model_dir="nowhere"), tmp_path)
    d = decide(None, True, "object moved 0.2", PolicyConfig())
    assert (d.decision, d.model) == ("kept", "fallback")
    assert decide(None, False, "light jump", PolicyConfig()).decision == "discarded"


def test_corrupt_model_is_a_clear_error(tmp_path):
    d = copy_model(tmp_path)
    data = (d / "model.tflite").read_bytes()
    (d / "model.tflite").write_bytes(data[: len(data) // 3])
    with pytest.raises(ModelError, match="not a loadable TFLite model"):
        Classifier.load(ClassifierConfig(), tmp_path)
    (d / "model.tflite").write_bytes(b"not a flatbuffer at all" * 100)
    with pytest.raises(ModelError):
        Classifier.load(ClassifierConfig(), tmp_path)


def test_labels_that_do_not_fit_the_model_are_refused(tmp_path):
    d = copy_model(tmp_path)
    labels = (d / "labels.txt").read_text().splitlines()
    (d / "labels.txt").write_text("\n".join(labels[:-1]) + "\n")
    with pytest.raises(ModelError, match="taxonomy/labels"):
        Classifier.load(ClassifierConfig(), tmp_path)


LEOPARDS = ["leopard_zoochimpsee_01.jpg", "leopard_zoogorongosa_01.jpg"]


@pytest.mark.skipif(not REALDATA.is_dir(), reason=f"real media not found at {REALDATA}")
@pytest.mark.parametrize("name", LEOPARDS)
def test_real_leopards_are_amur_leopard_and_alerted(clf, name):
    v = clf.classify_event([(read_image(REALDATA / "media" / name), [])])
    assert v.label == "amur_leopard"
    d = decide(v, True, "still", PolicyConfig())
    assert d.decision == "kept" and d.alert


@pytest.mark.skipif(not REALDATA.is_dir(), reason=f"real media not found at {REALDATA}")
def test_real_leopard_crop_around_the_animal(clf):
    """A motion box around the animal gives a crop that is still the target."""
    rgb = read_image(REALDATA / "media" / "leopard_zoochimpsee_01.jpg")
    v = clf.classify_event([(rgb, [(0.2, 0.2, 0.6, 0.6)])])
    assert v.target_score >= PolicyConfig().target_doubt
