"""The on-device classifier: LiteRT interpreter on the int8 model, event-level verdicts.

`ai_edge_litert` (or the older `tflite_runtime`) is imported only when a model is loaded.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .config import ClassifierConfig
from .preprocess import pad_square, resize_square, sharpness, square_crop, tiles, to_float, to_int8
from .taxonomy import Taxonomy, TaxonomyError, read_labels
from .verdict import Verdict, aggregate, frame_scores

Box = tuple[float, float, float, float]


class ModelError(Exception):
    """The model is missing, unreadable or does not fit its labels and taxonomy."""


def interpreter_class():
    """LiteRT's Interpreter, else tflite-runtime's; ModelError when neither is installed."""
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        try:
            from tflite_runtime.interpreter import Interpreter
        except ImportError:
            raise ModelError("no TFLite interpreter: pip install ai-edge-litert "
                             "(or tflite-runtime)") from None
    return Interpreter


@dataclass
class _Io:
    index: int
    dtype: type
    scale: float
    zero_point: int


class Classifier:
    """Load with `Classifier.load(cfg, base_dir)`; one instance per process (not thread-safe)."""

    def __init__(self, interpreter, taxonomy: Taxonomy, cfg: ClassifierConfig, version: str,
                 size: int, inp: _Io, out: _Io) -> None:
        self._interp = interpreter
        self._cfg = cfg
        self._size = size
        self._in = inp
        self._out = out
        self._matrix = taxonomy.matrix()
        self._evidence = taxonomy.evidence_vector()
        self.taxonomy = taxonomy
        self.version = version
        self.input_dtype = np.dtype(inp.dtype).name

    @classmethod
    def load(cls, cfg: ClassifierConfig, base_dir: Path) -> "Classifier":
        folder = Path(base_dir) / cfg.model_dir
        path = folder / cfg.model_file
        if not path.is_file():
            raise ModelError(f"model file {path} not found (build it with `make model`)")
        data = path.read_bytes()
        version = f"{path.stem}-{hashlib.sha256(data).hexdigest()[:12]}"
        try:
            labels = read_labels(folder / cfg.labels_file)
            taxonomy = Taxonomy.read(folder / cfg.taxonomy_file, labels)
        except TaxonomyError as e:
            raise ModelError(f"taxonomy/labels: {e}") from e
        Interpreter = interpreter_class()
        try:
            interp = Interpreter(model_content=data, num_threads=cfg.threads)
            interp.allocate_tensors()
        except (ValueError, RuntimeError) as e:
            raise ModelError(f"{path}: not a loadable TFLite model ({e})") from e
        ins, outs = interp.get_input_details(), interp.get_output_details()
        if len(ins) != 1 or len(outs) != 1:
            raise ModelError(f"{path}: expected 1 input and 1 output, got {len(ins)} and {len(outs)}")
        i, o = ins[0], outs[0]
        shape = tuple(int(d) for d in i["shape"])
        if len(shape) != 4 or shape[0] != 1 or shape[3] != 3 or shape[1] != shape[2]:
            raise ModelError(f"{path}: input shape {shape}, expected (1, S, S, 3) NHWC RGB")
        for name, d in (("input", i), ("output", o)):
            if d["dtype"] not in (np.int8, np.float32):
                raise ModelError(f"{path}: {name} dtype {np.dtype(d['dtype']).name}, expected int8 or float32")
            if d["dtype"] == np.int8 and d["quantization"][0] == 0:
                raise ModelError(f"{path}: int8 {name} without quantization parameters")
        oshape = tuple(int(d) for d in o["shape"])
        if oshape != (1, len(labels)):
            raise ModelError(f"{path}: output shape {oshape} but {cfg.labels_file} has {len(labels)} labels")
        io = [_Io(d["index"], d["dtype"], float(d["quantization"][0]), int(d["quantization"][1]))
              for d in (i, o)]
        clf = cls(interp, taxonomy, cfg, version, shape[1], io[0], io[1])
        probe = clf.probabilities(np.full((shape[1], shape[1], 3), 127, np.uint8))
        if not np.isfinite(probe).all():
            raise ModelError(f"{path}: the model gives non-finite outputs")
        return clf

    # -- one view -----------------------------------------------------------------------
    def probabilities(self, view: np.ndarray) -> np.ndarray:
        """Softmax over the model's outputs for one square uint8 RGB view of any size."""
        if view.shape[:2] != (self._size, self._size):
            view = resize_square(view, self._size)
        x = (to_int8(view, self._in.scale, self._in.zero_point) if self._in.dtype == np.int8
             else to_float(view))
        self._interp.set_tensor(self._in.index, x[None])
        self._interp.invoke()
        y = self._interp.get_tensor(self._out.index)[0]
        if self._out.dtype == np.int8:
            y = (y.astype(np.float32) - self._out.zero_point) * self._out.scale
        y = y.astype(np.float64)
        e = np.exp(y - y.max())
        return (e / e.sum()).astype(np.float32)

    def class_scores(self, view: np.ndarray) -> tuple[np.ndarray, float]:
        """Firmware-class masses and target evidence for one view."""
        p = self.probabilities(view)
        return p @ self._matrix, float(p @ self._evidence)

    # -- one event ----------------------------------------------------------------------
    def views_of(self, rgb: np.ndarray, boxes: list[Box]) -> list[np.ndarray]:
        cfg = self._cfg
        biggest = sorted(boxes, key=lambda b: b[2] * b[3], reverse=True)[:cfg.max_boxes]
        views = [square_crop(rgb, b, cfg.crop_pad, cfg.crop_min_side) for b in biggest]
        if cfg.whole_frame or not views:
            views.append(pad_square(rgb))
        if not biggest and cfg.tiles_without_boxes:
            views.extend(tiles(rgb))
        return views

    def choose_frames(self, samples: list[tuple[np.ndarray, list[Box]]]) -> list[int]:
        """Indices of the frames to classify: largest object first, sharpness breaking ties."""
        def quality(s: tuple[np.ndarray, list[Box]]) -> float:
            rgb, boxes = s
            if not boxes:
                return float(np.log1p(sharpness(rgb)))
            b = max(boxes, key=lambda b: b[2] * b[3])
            crop = square_crop(rgb, b, 0.0, 0.05)
            return float(b[2] * b[3] * np.log1p(sharpness(crop)))

        order = sorted(range(len(samples)), key=lambda i: quality(samples[i]), reverse=True)
        return sorted(order[: self._cfg.frames_per_event])

    def classify_event(self, samples: list[tuple[np.ndarray, list[Box]]]) -> Verdict:
        if not samples:
            raise ValueError("classify_event needs at least one frame")
        frames, evidence, runs = [], [], 0
        for i in self.choose_frames(samples):
            rgb, boxes = samples[i]
            if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
                raise ValueError(f"frame {i}: expected RGB uint8 HxWx3, got {rgb.dtype} {rgb.shape}")
            per_view = [self.class_scores(v) for v in self.views_of(rgb, boxes)]
            runs += len(per_view)
            s, ev = frame_scores(np.stack([p for p, _ in per_view]), np.array([e for _, e in per_view]))
            frames.append(s)
            evidence.append(ev)
        return aggregate(frames, evidence, self.version, runs)
