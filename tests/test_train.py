"""Fine-tuning: dataset loaders (folders, CSV, COCO Camera Traps), the stratified split, and
`python -m firmware.classify.train` end to end on a tiny dataset → int8 model that the runtime loads."""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from conftest import REALDATA
from firmware.classify.config import ClassifierConfig
from firmware.classify.datasets import DatasetError, Sample, load_dataset
from firmware.classify.media import read_image
from firmware.classify.taxonomy import FIRMWARE_CLASSES, TaxonomyError

# realdata file-name prefixes that give each test class its source images
REAL_SOURCES = {"amur_leopard": "leopard_", "bear": "american_black_bear_", "blank": "blank_"}
COLOURS = {"amur_leopard": (200, 140, 40), "bear": (40, 30, 20), "blank": (60, 140, 60)}


def write_jpg(path: Path, rgb: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))


def synthetic(cls: str, k: int) -> np.ndarray:
    """A 120x160 scene: noisy background, a class-coloured blob (none for blank)."""
    rng = np.random.default_rng(100 * list(COLOURS).index(cls) + k)
    img = rng.integers(70, 130, (120, 160, 3)).astype(np.uint8)
    if cls != "blank":
        cx, cy = 40 + 10 * k, 50 + 3 * k
        cv2.ellipse(img, (cx, cy), (30, 18), 0, 0, 360, COLOURS[cls], -1)
    return img


def real_crops(cls: str, n: int) -> list[np.ndarray] | None:
    """n small crops (three per source image, left/middle/right) from realdata images."""
    files = sorted(p for p in (REALDATA / "media").glob(REAL_SOURCES[cls] + "*.jpg"))
    if not files:
        return None
    out = []
    for k in range(n):
        rgb = read_image(files[k // 3 % len(files)])
        h, w = rgb.shape[:2]
        side = min(h, w)
        x0 = (w - side) * (k % 3) // 2
        out.append(cv2.resize(rgb[:, x0:x0 + side], (128, 96), interpolation=cv2.INTER_AREA))
    return out


def tiny_dataset(root: Path, per_class: int = 6) -> dict[str, list[Path]]:
    """3 classes x per_class images as DATA/<class>/*.jpg: realdata crops, else synthetic."""
    made: dict[str, list[Path]] = {}
    for cls in COLOURS:
        imgs = (real_crops(cls, per_class) if REALDATA.is_dir() else None) \
            or [synthetic(cls, k) for k in range(per_class)]
        made[cls] = []
        for k, img in enumerate(imgs):
            p = root / cls / f"{cls}_{k}.jpg"
            write_jpg(p, img)
            made[cls].append(p)
    return made


# -- loaders (no torch needed) ---------------------------------------------------------------
def test_folder_layout_with_and_without_label_map(tmp_path):
    for name in ("Leopard", "roe deer"):
        for k in range(2):
            write_jpg(tmp_path / "data" / name / f"{k}.jpg", synthetic("bear", k))
    with pytest.raises(DatasetError, match=r"'Leopard' \(2\).*--label-map"):
        load_dataset(tmp_path / "data")
    lm = tmp_path / "map.csv"
    lm.write_text("label,class\nLeopard,amur_leopard\nroe deer,deer\n")
    ds = load_dataset(tmp_path / "data", lm)
    assert ds.layout == "folders" and ds.counts() == {"amur_leopard": 2, "deer": 2}
    assert {s.source_label for s in ds.samples} == {"Leopard", "roe deer"}


def test_csv_manifest_paths_relative_to_csv_and_errors(tmp_path):
    for k in range(2):
        write_jpg(tmp_path / "imgs" / f"a{k}.jpg", synthetic("bear", k))
        write_jpg(tmp_path / "imgs" / f"b{k}.jpg", synthetic("blank", k))
    m = tmp_path / "train.csv"
    m.write_text("file,label\nimgs/a0.jpg,bear\nimgs/a1.jpg,Bear\nimgs/b0.jpg,blank\nimgs/b1.jpg,blank\n")
    ds = load_dataset(m)
    assert ds.layout == "csv" and ds.counts() == {"bear": 2, "blank": 2}
    assert all(s.path.is_file() for s in ds.samples)
    m.write_text("file,label\nimgs/a0.jpg,bear\nimgs/gone.jpg,blank\n")
    with pytest.raises(DatasetError, match="gone.jpg not found"):
        load_dataset(m)
    m.write_text("file,label,seq_id\nimgs/a0.jpg,bear,s1\nimgs/a1.jpg,bear,s1\nimgs/b0.jpg,blank,\n"
                 "clip.mp4,blank,s2\n")
    ds = load_dataset(m)   # clips are skipped and counted, stills keep their burst id
    assert ds.counts() == {"bear": 2, "blank": 1}
    assert ds.skipped == {"clips (training takes still images)": 1}
    assert [s.group for s in ds.samples] == ["s1", "s1", None]
    m.write_text("file,label\nimgs/a0.jpg,bear\nimgs/notes.txt,blank\n")
    with pytest.raises(DatasetError, match="not an image"):
        load_dataset(m)
    m.write_text("path,species\nimgs/a0.jpg,bear\n")
    with pytest.raises(DatasetError, match="file,label"):
        load_dataset(m)
    bad_map = tmp_path / "bad.csv"
    bad_map.write_text("label,class\nbear,grizzly\n")
    with pytest.raises(TaxonomyError, match="grizzly"):
        load_dataset(tmp_path / "train.csv", bad_map)


def test_coco_camera_traps_json(tmp_path):
    for k in range(5):
        write_jpg(tmp_path / "lila" / "loc1" / f"{k}.jpg", synthetic("bear", k))
    doc = {
        "images": [{"id": f"i{k}", "file_name": f"loc1/{k}.jpg", "seq_id": f"q{k // 2}"}
                   for k in range(6)],  # i5 not on disk
        "categories": [{"id": 0, "name": "empty"}, {"id": 1, "name": "Amur Tiger"},
                       {"id": 2, "name": "sika deer"}],
        "annotations": [
            {"id": "a0", "image_id": "i0", "category_id": 0},
            {"id": "a1", "image_id": "i1", "category_id": 1},
            {"id": "a2", "image_id": "i2", "category_id": 1},
            {"id": "a3", "image_id": "i3", "category_id": 1},   # i3: tiger and deer → ambiguous
            {"id": "a4", "image_id": "i3", "category_id": 2},
            {"id": "a5", "image_id": "i4", "category_id": 0},
            {"id": "a6", "image_id": "i5", "category_id": 2},
        ],
    }
    j = tmp_path / "lila" / "cct.json"
    j.write_text(json.dumps(doc))
    with pytest.raises(DatasetError, match="Amur Tiger"):
        load_dataset(j)
    lm = tmp_path / "map.csv"
    lm.write_text("label,class\nAmur Tiger,tiger\nsika deer,deer\n")
    ds = load_dataset(j, lm)
    assert ds.layout == "coco"
    assert ds.counts() == {"tiger": 2, "blank": 2}   # 'empty' → blank without a map row
    assert ds.skipped == {"annotations of several classes": 1, "file not on disk": 1}
    assert {s.path.name: s.group for s in ds.samples} == {"0.jpg": "q0", "1.jpg": "q0", "2.jpg": "q1",
                                                         "4.jpg": "q2"}
    j.write_text(json.dumps({"images": []}))
    with pytest.raises(DatasetError, match="COCO Camera Traps"):
        load_dataset(j, lm)


def test_one_class_is_refused(tmp_path):
    for k in range(3):
        write_jpg(tmp_path / "d" / "bear" / f"{k}.jpg", synthetic("bear", k))
    with pytest.raises(DatasetError, match="at least two"):
        load_dataset(tmp_path / "d")


def test_stratified_split_is_seeded_and_keeps_every_class():
    from firmware.classify.train import stratified_split

    samples = [Sample(Path(f"{c}/{k}.jpg"), c, c) for c, n in (("bear", 10), ("blank", 3), ("tiger", 1))
               for k in range(n)]
    tr, va = stratified_split(samples, 0.2, seed=7)
    assert sorted(s.label for s in va) == ["bear", "bear", "blank"]
    assert {s.label for s in tr} == {"bear", "blank", "tiger"}
    assert len(tr) + len(va) == len(samples) and not set(tr) & set(va)
    assert stratified_split(samples, 0.2, seed=7) == (tr, va)
    assert stratified_split(samples, 0.2, seed=8)[1] != va
    assert stratified_split(samples, 0.0, seed=7)[1] == []


def test_split_keeps_each_burst_on_one_side():
    from firmware.classify.train import stratified_split

    samples = [Sample(Path(f"{c}/{k}.jpg"), c, c, f"{c}-burst{k // 3}") for c in ("bear", "deer")
               for k in range(12)]                                   # 4 bursts of 3 per class
    for seed in range(5):
        tr, va = stratified_split(samples, 0.25, seed)
        assert {s.group for s in tr}.isdisjoint({s.group for s in va})
        assert sorted(s.label for s in va) == ["bear"] * 3 + ["deer"] * 3
    one_burst = [Sample(Path(f"x/{k}.jpg"), "bear", "bear", "b") for k in range(4)]
    assert stratified_split(one_burst, 0.5, 0)[1] == []              # never the class's only burst


# -- end to end ------------------------------------------------------------------------------
@pytest.fixture
def train_extra():
    from firmware.classify.train import TRAIN_MODULES

    missing = [m for m in TRAIN_MODULES if importlib.util.find_spec(m) is None]
    if missing:
        pytest.skip(f"fine-tuning needs the train extra ({', '.join(missing)} missing): `make test` "
                    f"installs it on x86-64 only (its torch/litert-torch wheels); elsewhere pip install -e '.[train]'")


def test_train_end_to_end_exports_a_model_the_runtime_loads(tmp_path, train_extra, capsys):
    from firmware.classify.runtime import Classifier
    from firmware.classify.train import main

    made = tiny_dataset(tmp_path / "data")
    out = tmp_path / "out"
    rc = main([str(tmp_path / "data"), "--out", str(out), "--epochs", "2", "--val-split", "0.34",
               "--seed", "3", "--batch-size", "6", "--calib", "8", "--threads", "2"])
    assert rc == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["metrics"]["images"] == 6

    clf = Classifier.load(ClassifierConfig(model_dir=str(out), threads=1), tmp_path)
    assert clf.input_dtype == "int8"
    assert clf.taxonomy.labels == FIRMWARE_CLASSES
    assert (out / "labels.txt").read_text().split() == list(FIRMWARE_CLASSES)
    v = clf.classify_event([(read_image(made["amur_leopard"][0]), [])])
    assert v.label in FIRMWARE_CLASSES and abs(sum(v.scores.values()) - 1) < 1e-4
    # the new head learned the trained classes: they hold most of the probability
    assert v.scores["amur_leopard"] + v.scores["bear"] + v.scores["blank"] > 0.5

    metrics = json.loads((out / "metrics.json").read_text())
    m = metrics["metrics"]["int8"]
    assert m["images"] == 6 and set(m["per_class"]) == set(COLOURS)
    assert all(v["images"] == 2 for v in m["per_class"].values())
    assert m["target_recall"] is not None and 0 <= m["accuracy"] <= 1
    assert metrics["split"]["train"] == {c: 4 for c in COLOURS}
    card = (out / "MODEL_CARD.md").read_text()
    assert "target_recall" in card and "mean_class_accuracy" in card and metrics["created"][:10] in card
    assert str(tmp_path / "data") in card
    assert not list(out.glob(".train-*")) and not (out / "model_float.tflite").exists()

    # a second run into the same folder is refused unless --overwrite: nothing is replaced
    before = (out / "model.tflite").read_bytes()
    assert main([str(tmp_path / "data"), "--out", str(out), "--epochs", "1"]) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert (out / "model.tflite").read_bytes() == before


def test_train_rejects_bad_arguments_before_loading_anything(tmp_path, train_extra, capsys):
    from firmware.classify.train import main

    assert main([str(tmp_path / "nowhere"), "--out", str(tmp_path / "o"), "--val-split", "1.5",
                 "--unfreeze-blocks", "40"]) == 2
    err = capsys.readouterr().err
    assert "--val-split 1.5" in err and "--unfreeze-blocks 40" in err
    assert main([str(tmp_path / "nowhere"), "--out", str(tmp_path / "o")]) == 2
    assert "not found" in capsys.readouterr().err


def test_model_train_subcommand_registers_its_options():
    import argparse

    from firmware.classify.train import add_model_parser

    ap = argparse.ArgumentParser(prog="trailcam")
    add_model_parser(ap.add_subparsers(dest="command"))
    a = ap.parse_args(["model", "train", "d", "--out", "o", "--epochs", "3", "--unfreeze-blocks", "2",
                       "--val-split", "0.1", "--seed", "5"])
    assert (a.data, a.out, a.epochs, a.unfreeze_blocks, a.val_split, a.seed) == \
        (Path("d"), Path("o"), 3, 2, 0.1, 5)
    assert callable(a.func)
