"""PyTorch classifier → float .tflite (litert-torch) → full-integer int8 .tflite (int8 in and out).

Needs the `train` extra (torch, litert-torch); never imported on the unit. Quantization uses
LiteRT's own post-training calibrator (the one TFLiteConverter drives): per-channel int8
weights, int8 activations calibrated on real images, int8 input and output tensors.
"""
from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np

from .preprocess import INPUT_SIZE, to_float

# numpy type numbers, as the calibrator's QuantizeModel takes them
_INT8 = np.dtype(np.int8).num
_INT32 = np.dtype(np.int32).num


def to_float_tflite(net, out_path: Path) -> bytes:
    """`net` takes NCHW float (x - 127) / 128 and returns logits; the .tflite takes NHWC."""
    import litert_torch
    import torch

    class _Nhwc(torch.nn.Module):
        def __init__(self, inner: torch.nn.Module) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.inner(x.permute(0, 3, 1, 2))

    wrapped = _Nhwc(net.eval()).eval()
    sample = (torch.zeros(1, INPUT_SIZE, INPUT_SIZE, 3),)
    edge = litert_torch.convert(wrapped, sample)
    edge.export(str(out_path))
    return out_path.read_bytes()


def quantize_int8(float_model: bytes, calibration: Iterable[np.ndarray]) -> bytes:
    """Full-integer quantization with int8 input/output; `calibration` yields uint8 224x224x3."""
    from ai_edge_litert import _pywrap_tensorflow_lite_calibration_wrapper as cw

    cal = cw.CalibrationWrapper(float_model, [], [])
    prepared = False
    n = 0
    for rgb in calibration:
        x = to_float(rgb)[None]
        if not prepared:
            cal.Prepare([list(x.shape)])
            prepared = True
        cal.FeedTensor([x])
        n += 1
    if n == 0:
        raise ValueError("no calibration images")
    # input type, output type, allow float, activations type, bias type,
    # disable per-channel, disable per-channel for dense layers
    return bytes(cal.QuantizeModel(_INT8, _INT8, False, _INT8, _INT32, False, False))
