"""Image → model input, shared by the model build, the runtime and fine-tuning.

One definition so the build calibrates on exactly what the unit feeds the model: square RGB
crops resized to the model's side with area interpolation; real-valued input (x - 127) / 128;
int8 models take that value through the input tensor's own scale and zero point.
"""
from __future__ import annotations

import numpy as np

INPUT_SIZE = 224
PAD_VALUE = 127  # grey that maps to 0.0 at the model input


def to_float(rgb: np.ndarray) -> np.ndarray:
    """uint8 HxWx3 → float32 (x - 127) / 128, the scaling the EfficientNet-Lite weights expect."""
    return (rgb.astype(np.float32) - 127.0) / 128.0


def to_int8(rgb: np.ndarray, scale: float, zero_point: int) -> np.ndarray:
    q = np.round(to_float(rgb) / scale) + zero_point
    return np.clip(q, -128, 127).astype(np.int8)


def resize_square(rgb: np.ndarray, size: int = INPUT_SIZE) -> np.ndarray:
    """A square uint8 RGB view → size x size uint8."""
    import cv2

    h, w = rgb.shape[:2]
    interp = cv2.INTER_AREA if min(h, w) >= size else cv2.INTER_LINEAR
    return cv2.resize(np.ascontiguousarray(rgb), (size, size), interpolation=interp)


def pad_square(rgb: np.ndarray) -> np.ndarray:
    """Whole frame padded (centred) to a square with neutral grey, so nothing is cut or squashed."""
    h, w = rgb.shape[:2]
    side = max(h, w)
    out = np.full((side, side, 3), PAD_VALUE, np.uint8)
    y0, x0 = (side - h) // 2, (side - w) // 2
    out[y0:y0 + h, x0:x0 + w] = rgb
    return out


def square_crop(rgb: np.ndarray, box: tuple[float, float, float, float], pad: float,
                min_side: float) -> np.ndarray:
    """Square crop around a box (x, y, w, h in 0..1 frame fractions) with `pad` context on each
    side (share of the box's larger side), at least `min_side` of the frame's shorter side,
    shifted to stay inside the frame."""
    fh, fw = rgb.shape[:2]
    x, y, bw, bh = box
    cx, cy = (x + bw / 2) * fw, (y + bh / 2) * fh
    side = max(bw * fw, bh * fh) * (1 + 2 * pad)
    side = int(round(min(max(side, min_side * min(fw, fh)), min(fw, fh))))
    side = max(side, 8)
    x0 = int(round(min(max(cx - side / 2, 0), fw - side)))
    y0 = int(round(min(max(cy - side / 2, 0), fh - side)))
    return rgb[y0:y0 + side, x0:x0 + side]


def tiles(rgb: np.ndarray) -> list[np.ndarray]:
    """Three overlapping squares along the frame's long side (for frames with no motion box)."""
    h, w = rgb.shape[:2]
    side = min(h, w)
    if w >= h:
        starts = sorted({0, (w - side) // 2, w - side})
        return [rgb[:, s:s + side] for s in starts]
    starts = sorted({0, (h - side) // 2, h - side})
    return [rgb[s:s + side, :] for s in starts]


def sharpness(rgb: np.ndarray) -> float:
    """Variance of the Laplacian of the luma: higher = sharper."""
    import cv2

    grey = cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2GRAY)
    return float(cv2.Laplacian(grey, cv2.CV_32F).var())


def still_views(rgb: np.ndarray) -> list[np.ndarray]:
    """Views of a frame with no motion boxes: whole frame (padded) + tiles, each resized."""
    return [resize_square(pad_square(rgb))] + [resize_square(t) for t in tiles(rgb)]
