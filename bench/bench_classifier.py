"""Classifier benchmark: int8 vs float latency (same CPU, same run), event cost, load time, memory.

    python bench/bench_classifier.py [--threads 1] [--rounds 9] [--runs 30] [--cpu 1]

Needs models/model.tflite (committed) and, for the float row, models/model_float.tflite
(written by `make model`, not committed).

int8 and float are timed the same way: same interpreter options and thread count, the same
real image (a padded whole frame from ../shared/realdata when present, else fixed noise)
prepared by the runtime's own preprocessing, `--rounds` interleaved rounds (order alternating)
of `--runs` invokes each. Printed: median of the per-round medians, min-max over rounds, and
the int8/float ratio of each round (median, min-max). On a shared CPU pin the process to one
core with `--cpu N` (or `taskset -c N`) at --threads 1.
"""
from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def bench_view() -> np.ndarray:
    """A real camera-trap image as a square view (padded whole frame), else fixed noise."""
    from firmware.classify.preprocess import pad_square

    media = REPO.parent / "shared" / "realdata" / "media"
    files = sorted(media.glob("*.jpg")) if media.is_dir() else []
    if files:
        import cv2

        return pad_square(cv2.cvtColor(cv2.imread(str(files[0])), cv2.COLOR_BGR2RGB))
    return np.random.default_rng(0).integers(0, 256, (480, 640, 3), dtype=np.uint8)


def set_input(clf, view: np.ndarray) -> None:
    """Put one view into the model's input tensor exactly as Classifier.probabilities does."""
    from firmware.classify.preprocess import resize_square, to_float, to_int8

    v = resize_square(view, clf._size)
    x = (to_int8(v, clf._in.scale, clf._in.zero_point) if clf._in.dtype == np.int8
         else to_float(v))
    clf._interp.set_tensor(clf._in.index, x[None])


def interleaved_invoke_ms(clfs: list, view: np.ndarray, rounds: int, runs: int) -> np.ndarray:
    """(rounds, len(clfs)) median invoke time in ms; models alternate order round by round."""
    for c in clfs:
        set_input(c, view)
        for _ in range(5):
            c._interp.invoke()
    out = np.zeros((rounds, len(clfs)))
    for r in range(rounds):
        order = range(len(clfs)) if r % 2 == 0 else reversed(range(len(clfs)))
        for k in order:
            interp, ts = clfs[k]._interp, []
            for _ in range(runs):
                t = time.perf_counter()
                interp.invoke()
                ts.append(time.perf_counter() - t)
            out[r, k] = np.median(ts) * 1000
    return out


def spread(a: np.ndarray, fmt: str = ".2f", unit: str = " ms") -> str:
    return f"{np.median(a):{fmt}}{unit} (min {a.min():{fmt}}, max {a.max():{fmt}})"


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--runs", type=int, default=30, help="invokes per round and model")
    ap.add_argument("--rounds", type=int, default=9, help="interleaved rounds")
    ap.add_argument("--cpu", type=int, help="pin this process to one CPU core")
    args = ap.parse_args()
    if args.cpu is not None:
        os.sched_setaffinity(0, {args.cpu})
    from firmware.classify.config import ClassifierConfig
    from firmware.classify.runtime import Classifier

    rows = []
    base_rss = rss_mb()
    t = time.perf_counter()
    c8 = Classifier.load(ClassifierConfig(threads=args.threads), REPO)
    load_ms = (time.perf_counter() - t) * 1000
    rows.append(("int8 load (incl. self-check)", f"{load_ms:.0f} ms"))
    rows.append(("int8 RSS added by load", f"{rss_mb() - base_rss:.1f} MB"))
    view = bench_view()
    fpath = REPO / "models" / "model_float.tflite"
    if fpath.is_file():
        cf = Classifier.load(ClassifierConfig(threads=args.threads, model_file=fpath.name), REPO)
        ms = interleaved_invoke_ms([c8, cf], view, args.rounds, args.runs)
        rows.append(("int8 invoke 224 px", spread(ms[:, 0])))
        rows.append(("float invoke 224 px", spread(ms[:, 1])))
        rows.append(("int8 / float latency ratio (per round)", spread(ms[:, 0] / ms[:, 1], ".3f", "")))
    else:
        ms = interleaved_invoke_ms([c8], view, args.rounds, args.runs)
        rows.append(("int8 invoke 224 px", spread(ms[:, 0])))
        rows.append(("float invoke", "skipped: models/model_float.tflite absent (run make model)"))
    rng = np.random.default_rng(0)
    frames = [(rng.integers(0, 256, (1080, 1920, 3), dtype=np.uint8),
               [(0.4, 0.3, 0.2, 0.3), (0.1, 0.5, 0.1, 0.1)]) for _ in range(8)]
    c8.classify_event(frames)
    ts = []
    for _ in range(5):
        t = time.perf_counter()
        v = c8.classify_event(frames)
        ts.append(time.perf_counter() - t)
    rows.append((f"event: 8 frames 1080p, {v.frames} chosen, {v.views} views",
                 f"{np.median(ts) * 1000:.0f} ms"))
    rows.append(("model size", f"{(REPO / 'models' / 'model.tflite').stat().st_size / 1e6:.2f} MB"))
    w = max(len(r[0]) for r in rows)
    pin = f", pinned to CPU {args.cpu}" if args.cpu is not None else ""
    print(f"classifier benchmark, threads={args.threads}{pin}, "
          f"{args.rounds} rounds x {args.runs} invokes")
    for k, val in rows:
        print(f"  {k:<{w}}  {val}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
