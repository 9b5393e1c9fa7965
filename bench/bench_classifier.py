"""Classifier benchmark: int8 vs float latency (same CPU, same run), event cost, load time, memory.

    python bench/bench_classifier.py [--threads 1] [--runs 50]

Needs models/model.tflite (committed) and, for the float row, models/model_float.tflite
(written by `make model`, not committed).
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def invoke_ms(clf, runs: int) -> float:
    interp, inp = clf._interp, clf._in
    x = np.zeros((1, clf._size, clf._size, 3), inp.dtype)
    interp.set_tensor(inp.index, x)
    for _ in range(5):
        interp.invoke()
    ts = []
    for _ in range(runs):
        t = time.perf_counter()
        interp.invoke()
        ts.append(time.perf_counter() - t)
    return float(np.median(ts) * 1000)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--runs", type=int, default=50)
    args = ap.parse_args()
    from firmware.classify.config import ClassifierConfig
    from firmware.classify.runtime import Classifier

    rows = []
    base_rss = rss_mb()
    t = time.perf_counter()
    c8 = Classifier.load(ClassifierConfig(threads=args.threads), REPO)
    load_ms = (time.perf_counter() - t) * 1000
    rows.append(("int8 load (incl. self-check)", f"{load_ms:.0f} ms"))
    rows.append(("int8 RSS added by load", f"{rss_mb() - base_rss:.1f} MB"))
    i8 = invoke_ms(c8, args.runs)
    rows.append(("int8 invoke 224 px (median)", f"{i8:.2f} ms"))
    fpath = REPO / "models" / "model_float.tflite"
    if fpath.is_file():
        cf = Classifier.load(ClassifierConfig(threads=args.threads, model_file=fpath.name), REPO)
        f32 = invoke_ms(cf, args.runs)
        i8b = invoke_ms(c8, args.runs)  # again, interleaved, against drift on a shared CPU
        i8 = min(i8, i8b)
        rows.append(("float invoke 224 px (median)", f"{f32:.2f} ms"))
        rows.append(("int8 / float latency ratio", f"{i8 / f32:.2f}"))
    else:
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
    print(f"classifier benchmark, threads={args.threads}")
    for k, val in rows:
        print(f"  {k:<{w}}  {val}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
