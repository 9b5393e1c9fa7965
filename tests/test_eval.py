"""`trailcam eval`: metrics, confusion, manifests with images and a clip, the fallback."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pytest

from conftest import REPO
from firmware.classify.evaluate import EvalError, add_eval_parser, confusion_of, metrics_of, run_eval
from firmware.config import Config


def row(truth, label, decision):
    return {"truth": truth, "label": label, "decision": decision}


def test_metrics_on_hand_made_rows():
    rows = [
        row("amur_leopard", "amur_leopard", "kept"),
        row("amur_leopard", "blank", "discarded"),
        row("blank", "blank", "discarded"),
        row("blank", "blank", "discarded"),
        row("blank", "deer", "kept"),
        row("deer", "amur_leopard", "kept"),
        row("deer", "deer", "kept"),
        row("tiger", "tiger", "kept"),
    ]
    m = metrics_of(rows, "amur_leopard")
    assert m["target_recall"] == 0.5
    assert m["blank_discard_rate"] == round(2 / 3, 4)
    assert m["false_target_rate"] == round(1 / 6, 4)
    assert (m["kept"], m["discarded"]) == (5, 3)
    conf = confusion_of(rows)
    assert conf["blank"] == {"blank": 2, "deer": 1}
    assert conf["deer"] == {"amur_leopard": 1, "deer": 1}
    assert "bear" not in conf


def write_media(folder: Path) -> None:
    import av
    import cv2

    rng = np.random.default_rng(0)
    cv2.imwrite(str(folder / "grey.png"), np.full((120, 160, 3), 128, np.uint8))
    cv2.imwrite(str(folder / "noise.jpg"), rng.integers(0, 256, (120, 160, 3), dtype=np.uint8))
    (folder / "broken.jpg").write_bytes(b"not a jpeg")
    with av.open(str(folder / "clip.mp4"), "w") as out:
        s = out.add_stream("libx264", rate=10)
        s.width, s.height, s.pix_fmt = 160, 120, "yuv420p"
        for i in range(12):
            img = np.full((120, 160, 3), 40, np.uint8)
            img[40:80, 10 + i * 8:50 + i * 8] = 220
            for p in s.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                out.mux(p)
        for p in s.encode():
            out.mux(p)


@pytest.fixture
def manifest(tmp_path) -> Path:
    write_media(tmp_path)
    m = tmp_path / "MANIFEST.csv"
    m.write_text("file,label\ngrey.png,blank\nnoise.jpg,leopard\nclip.mp4,wolf\nbroken.jpg,blank\n")
    return m


def test_eval_with_the_real_model_writes_a_consistent_report(manifest, tmp_path):
    report = tmp_path / "out" / "report.json"
    res = run_eval(manifest, report, Config(), base_dir=REPO, progress=False)
    assert json.loads(report.read_text())["metrics"] == res["metrics"]
    files = {r["file"]: r for r in res["files"]}
    assert files["clip.mp4"]["media"] == "video" and files["clip.mp4"]["frames"] == 8
    assert files["broken.jpg"]["decision"] == "kept" and "error" in files["broken.jpg"]
    assert res["model"].startswith("model-")
    # metrics recomputed by hand from the per-file rows
    m = res["metrics"]
    assert m["target_recall"] == (1.0 if files["noise.jpg"]["decision"] == "kept" else 0.0)
    blanks = [files["grey.png"], files["broken.jpg"]]
    assert m["blank_discard_rate"] == sum(r["decision"] == "discarded" for r in blanks) / 2
    assert sum(sum(r.values()) for r in res["confusion"].values()) == 4


def test_eval_without_a_model_keeps_everything(manifest, tmp_path):
    cfg = Config()
    cfg.classifier.model_dir = "no-such-dir"
    res = run_eval(manifest, None, cfg, base_dir=REPO, progress=False,
                   label_map_path=REPO / "models" / "realdata_labels.csv")
    assert res["model"] == "fallback" and "not found" in res["model_error"]
    assert res["metrics"]["target_recall"] == 1.0
    assert res["metrics"]["blank_discard_rate"] == 0.0
    assert all(r["decision"] == "kept" for r in res["files"])


def test_unknown_labels_are_refused(tmp_path):
    m = tmp_path / "m.csv"
    m.write_text("file,label\na.jpg,yeti\n")
    with pytest.raises(EvalError, match="yeti"):
        run_eval(m, None, Config(), base_dir=REPO, progress=False)


def test_eval_subcommand_is_registered():
    ap = argparse.ArgumentParser()
    add_eval_parser(ap.add_subparsers(dest="cmd"))
    args = ap.parse_args(["eval", "x.csv", "--report", "r.json"])
    assert args.manifest == Path("x.csv") and args.report == Path("r.json") and callable(args.func)
