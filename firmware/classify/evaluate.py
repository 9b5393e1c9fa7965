"""`trailcam eval MANIFEST [--report PATH]`: the classifier and policy on labelled media.

MANIFEST is a CSV with at least `file,label` (paths relative to the CSV's folder or to its
media/ subfolder). Dataset
labels are mapped to firmware classes by a data file (default models/realdata_labels.csv).

How "blank" is decided here: still images and clips have no lores stream, so the motion
check cannot run; every file counts as a motion-confirmed trigger and the classifier alone
decides (policy.blank_min on the event's blank score, unless the doubt rule keeps it). On the
unit the motion check runs first and rejects most false triggers before the classifier.
Clips: `clip_frames` frames spread over the clip, classified as one event (no motion boxes, so
whole frame + tiles per frame).
"""
from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from pathlib import Path
from typing import Any

from .media import MediaError, read_media
from .policy import FALLBACK, decide
from .runtime import Classifier, ModelError
from .taxonomy import FIRMWARE_CLASSES, read_label_map

CLIP_FRAMES = 8


class EvalError(ValueError):
    """A manifest that cannot be evaluated (missing columns, unknown labels)."""


def read_manifest(manifest: Path, label_map: dict[str, str]) -> list[dict[str, str]]:
    try:
        with manifest.open(newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
    except OSError as e:
        raise EvalError(f"{manifest}: cannot read ({e.strerror})") from e
    if not rows or not {"file", "label"} <= set(rows[0]):
        raise EvalError(f"{manifest}: needs a header with at least file,label and one row")
    unknown = sorted({r["label"] for r in rows} - set(label_map))
    if unknown:
        raise EvalError(f"{manifest}: labels with no firmware class: {', '.join(unknown)} "
                        f"(add rows label,class to the label map)")
    return rows


def resolve_media(manifest: Path, name: str) -> Path:
    """A manifest path, relative to the CSV's folder, or to its media/ subfolder (the layout of
    ../shared/realdata: MANIFEST.csv beside media/)."""
    direct = manifest.parent / name
    if direct.exists():
        return direct
    under = manifest.parent / "media" / name
    return under if under.exists() else direct


def _progress(i: int, n: int, name: str, width: int = 30) -> None:
    done = int(width * i / n)
    sys.stderr.write(f"\r[{'#' * done}{'.' * (width - done)}] {i}/{n} {name[:40]:<40}")
    if i == n:
        sys.stderr.write("\n")
    sys.stderr.flush()


def metrics_of(rows: list[dict[str, Any]], target: str) -> dict[str, Any]:
    """target_recall: share of target files kept; blank_discard_rate: share of blank files
    discarded; false_target_rate: share of non-target files labelled the target."""
    def share(sel: list[dict[str, Any]], pred) -> float | None:
        return round(sum(1 for r in sel if pred(r)) / len(sel), 4) if sel else None

    tgt = [r for r in rows if r["truth"] == target]
    blank = [r for r in rows if r["truth"] == "blank"]
    other = [r for r in rows if r["truth"] != target]
    return {
        "files": len(rows),
        "target_files": len(tgt),
        "target_recall": share(tgt, lambda r: r["decision"] == "kept"),
        "target_label_recall": share(tgt, lambda r: r["label"] == target),
        "blank_files": len(blank),
        "blank_discard_rate": share(blank, lambda r: r["decision"] == "discarded"),
        "false_target_rate": share(other, lambda r: r["label"] == target),
        "animal_keep_rate": share([r for r in rows if r["truth"] != "blank"],
                                  lambda r: r["decision"] == "kept"),
        "label_accuracy": share(rows, lambda r: r["label"] == r["truth"]),
        "kept": sum(1 for r in rows if r["decision"] == "kept"),
        "discarded": sum(1 for r in rows if r["decision"] == "discarded"),
    }


def confusion_of(rows: list[dict[str, Any]]) -> dict[str, dict[str, int]]:
    table = {t: {p: 0 for p in FIRMWARE_CLASSES} for t in FIRMWARE_CLASSES}
    for r in rows:
        table[r["truth"]][r["label"]] += 1
    return {t: {p: n for p, n in row.items() if n} for t, row in table.items() if any(row.values())}


def format_confusion(conf: dict[str, dict[str, int]]) -> str:
    cols = [c for c in FIRMWARE_CLASSES if any(c in row for row in conf.values())]
    short = {c: c[:6] for c in cols}
    head = f"{'truth/label':<14}" + "".join(f"{short[c]:>7}" for c in cols)
    lines = [head]
    for t, row in conf.items():
        lines.append(f"{t:<14}" + "".join(f"{row.get(c, 0) or '.':>7}" for c in cols))
    return "\n".join(lines)


def run_eval(manifest: Path, report: Path | None, cfg, base_dir: Path | None = None,
             label_map_path: Path | None = None, clip_frames: int = CLIP_FRAMES,
             progress: bool = True) -> dict[str, Any]:
    """Evaluate `cfg.classifier` + `cfg.policy` on MANIFEST; write the JSON report if asked."""
    manifest = Path(manifest)
    base = Path(base_dir) if base_dir is not None else Path.cwd()
    lm_path = label_map_path or base / cfg.classifier.model_dir / "realdata_labels.csv"
    label_map = read_label_map(lm_path)
    rows = read_manifest(manifest, label_map)
    try:
        clf: Classifier | None = Classifier.load(cfg.classifier, base)
        model, model_error = clf.version, None
    except ModelError as e:
        clf, model, model_error = None, FALLBACK, str(e)
        print(f"classifier unavailable, keep-all fallback: {e}", file=sys.stderr)
    out_rows: list[dict[str, Any]] = []
    t0 = time.perf_counter()
    for i, row in enumerate(rows, start=1):
        path = resolve_media(manifest, row["file"])
        truth = label_map[row["label"]]
        rec: dict[str, Any] = {"file": row["file"], "dataset_label": row["label"], "truth": truth}
        try:
            kind, frames = read_media(path, clip_frames)
        except MediaError as e:
            rec.update(media=None, label="blank", score=0.0, target_score=0.0,
                       decision="kept", alert=False, reason=f"unreadable, kept: {e}", error=str(e))
            out_rows.append(rec)
            continue
        verdict = clf.classify_event([(f, []) for f in frames]) if clf is not None else None
        dec = decide(verdict, True, f"{kind}: no motion check", cfg.policy)
        rec.update(media=kind, frames=len(frames),
                   label=verdict.label if verdict else "blank",
                   score=round(verdict.score, 4) if verdict else 0.0,
                   target_score=round(verdict.target_score, 4) if verdict else 0.0,
                   scores={k: round(v, 4) for k, v in verdict.scores.items() if v >= 0.005}
                   if verdict else {},
                   decision=dec.decision, alert=dec.alert, reason=dec.reason, model=dec.model)
        out_rows.append(rec)
        if progress:
            _progress(i, len(rows), row["file"])
    result = {
        "manifest": str(manifest), "model": model, "model_error": model_error,
        "target": cfg.policy.target_class,
        "blank_rule": "no motion check on stills/clips: classifier blank score >= policy.blank_min "
                      "discards, unless target evidence >= policy.target_doubt",
        "policy": cfg.policy.model_dump(), "wall_seconds": round(time.perf_counter() - t0, 2),
        "metrics": metrics_of(out_rows, cfg.policy.target_class),
        "confusion": confusion_of(out_rows),
        "files": out_rows,
    }
    if report is not None:
        Path(report).parent.mkdir(parents=True, exist_ok=True)
        Path(report).write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return result


def _cmd(args: argparse.Namespace) -> int:
    from ..config import Config, load_config

    cfg = load_config(args.config) if args.config else Config()
    res = run_eval(args.manifest, args.report, cfg, base_dir=args.base_dir,
                   label_map_path=args.label_map, clip_frames=args.clip_frames)
    print(format_confusion(res["confusion"]))
    print(json.dumps({"model": res["model"], "metrics": res["metrics"]}, indent=2))
    return 0


def add_eval_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser("eval", help="run the classifier and policy on labelled media",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("manifest", type=Path, help="CSV with file,label columns")
    p.add_argument("--report", type=Path, default=None, help="write the JSON report here")
    p.add_argument("--config", type=Path, default=None, help="unit config TOML (default: built-in defaults)")
    p.add_argument("--base-dir", type=Path, default=Path.cwd(),
                   help="folder that classifier.model_dir is relative to (default: current folder)")
    p.add_argument("--label-map", type=Path, default=None,
                   help="CSV label,class (default: <model_dir>/realdata_labels.csv)")
    p.add_argument("--clip-frames", type=int, default=CLIP_FRAMES, help="frames sampled per clip")
    p.set_defaults(func=_cmd)
    return p


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m firmware.classify.evaluate")
    sub = ap.add_subparsers(dest="command", required=True)
    add_eval_parser(sub)
    args = ap.parse_args(["eval", *(argv if argv is not None else sys.argv[1:])])
    return args.func(args)


if __name__ == "__main__":
    raise SystemExit(main())
