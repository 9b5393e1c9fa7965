"""Labelled training images for fine-tuning, from three layouts, labelled with firmware classes.

- **folder per class**: DATA/<label>/**/*.jpg — the folder name is the label;
- **CSV manifest**: a .csv with at least `file,label` (paths relative to the CSV's folder or
  its media/ subfolder, as `trailcam eval` reads them), optionally `seq_id` (or `group`);
  clips in it are skipped and counted (an eval manifest can be reused);
- **COCO Camera Traps** (the LILA format): a .json with images[] (id, file_name),
  annotations[] (image_id, category_id) and categories[] (id, name); image paths relative to
  the JSON's folder unless an images root is given. Images listed in the JSON but absent on
  disk are skipped and counted (LILA users usually hold a subset); images whose annotations
  name more than one class are skipped as ambiguous; the category `empty` means `blank`;
  an image's `seq_id` groups the frames of one burst.

Dataset labels become firmware classes through a label map (CSV `label,class`, as read by
`taxonomy.read_label_map`) or, without one, must already be firmware class names (compared
case-insensitively, spaces and hyphens as underscores). An unknown label is a clear error that
lists every label lacking a class. Still images only. Frames sharing a group (burst) stay on
one side of the train/held-out split, so near-duplicates do not inflate the held-out figures.
"""
from __future__ import annotations

import csv
import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from .evaluate import resolve_media
from .media import IMAGE_EXT, VIDEO_EXT
from .taxonomy import BLANK, FIRMWARE_CLASSES, read_label_map

# COCO Camera Traps names for "no animal", used when no label map says otherwise
EMPTY_NAMES = {"empty": BLANK, "blank": BLANK, "nothing": BLANK}


class DatasetError(ValueError):
    """A dataset that cannot be used for training (layout, labels, files)."""


@dataclass(frozen=True)
class Sample:
    path: Path
    label: str        # firmware class
    source_label: str  # label as the dataset spells it
    group: str | None = None  # sequence/burst id: the split never separates a group's images


@dataclass
class Dataset:
    samples: list[Sample]
    layout: str                     # "folders", "csv" or "coco"
    source: Path
    skipped: dict[str, int] = field(default_factory=dict)  # reason -> count

    def counts(self) -> dict[str, int]:
        c = Counter(s.label for s in self.samples)
        return {k: c[k] for k in FIRMWARE_CLASSES if c[k]}


def _norm(label: str) -> str:
    return label.strip().lower().replace(" ", "_").replace("-", "_")


class _Labeller:
    """Dataset label → firmware class, collecting the labels it cannot place."""

    def __init__(self, label_map: dict[str, str] | None, extra: dict[str, str] | None = None) -> None:
        self._map = label_map
        self._extra = extra or {}
        self.unknown: Counter[str] = Counter()

    def __call__(self, label: str, images: int = 1) -> str | None:
        if self._map is not None:
            for key in (label, label.strip(), _norm(label)):
                if key in self._map:
                    return self._map[key]
        n = _norm(label)
        if n in FIRMWARE_CLASSES:
            return n
        if n in self._extra:
            return self._extra[n]
        self.unknown[label] += images
        return None

    def check(self, where: Path) -> None:
        if self.unknown:
            listed = ", ".join(f"{k!r} ({v})" for k, v in sorted(self.unknown.items()))
            how = ("add rows label,class to the label map" if self._map is not None
                   else "pass --label-map with rows label,class")
            raise DatasetError(f"{where}: labels with no firmware class: {listed}; {how} "
                               f"(classes: {', '.join(FIRMWARE_CLASSES)})")


def _check_image(path: Path, where: str) -> None:
    ext = path.suffix.lower()
    if ext not in IMAGE_EXT:
        raise DatasetError(f"{where}: {path} is not an image ({', '.join(sorted(IMAGE_EXT))})")
    if not path.is_file():
        raise DatasetError(f"{where}: {path} not found")


def load_folders(root: Path, label_map: dict[str, str] | None) -> Dataset:
    dirs = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not dirs:
        raise DatasetError(f"{root}: no class folders (expected DATA/<label>/*.jpg)")
    lab = _Labeller(label_map)
    samples: list[Sample] = []
    for d in dirs:
        files = sorted(p for p in d.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_EXT)
        if not files:
            continue
        cls = lab(d.name, len(files))
        samples.extend(Sample(p, cls, d.name) for p in files if cls is not None)
    lab.check(root)
    return Dataset(samples, "folders", root)


def load_csv(manifest: Path, label_map: dict[str, str] | None) -> Dataset:
    try:
        with manifest.open(newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
    except (OSError, UnicodeDecodeError) as e:
        raise DatasetError(f"{manifest}: cannot read ({e})") from e
    if not rows or not {"file", "label"} <= set(rows[0]):
        raise DatasetError(f"{manifest}: needs a header with at least file,label and one row")
    lab = _Labeller(label_map)
    group_col = next((c for c in ("seq_id", "group") if c in rows[0]), None)
    skipped: Counter[str] = Counter()
    samples: list[Sample] = []
    for n, row in enumerate(rows, start=2):
        cls = lab(row["label"])
        if cls is None:
            continue
        path = resolve_media(manifest, row["file"])
        if path.suffix.lower() in VIDEO_EXT:
            skipped["clips (training takes still images)"] += 1
            continue
        _check_image(path, f"{manifest} row {n}")
        group = (row.get(group_col) or None) if group_col else None
        samples.append(Sample(path, cls, row["label"], group))
    lab.check(manifest)
    return Dataset(samples, "csv", manifest, dict(skipped))


def load_coco(path: Path, label_map: dict[str, str] | None, images_root: Path | None = None) -> Dataset:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise DatasetError(f"{path}: not a readable JSON file ({e})") from e
    if not isinstance(doc, dict) or not all(isinstance(doc.get(k), list)
                                            for k in ("images", "annotations", "categories")):
        raise DatasetError(f"{path}: not COCO Camera Traps (needs lists images, annotations, categories)")
    try:
        cats = {c["id"]: str(c["name"]) for c in doc["categories"]}
        files = {im["id"]: str(im["file_name"]) for im in doc["images"]}
        seqs = {im["id"]: str(im["seq_id"]) for im in doc["images"] if im.get("seq_id") is not None}
        per_image: dict[object, set[str]] = {}
        for a in doc["annotations"]:
            if a["image_id"] not in files:
                raise DatasetError(f"{path}: annotation {a.get('id')!r} names unknown image {a['image_id']!r}")
            if a["category_id"] not in cats:
                raise DatasetError(f"{path}: annotation {a.get('id')!r} names unknown category "
                                   f"{a['category_id']!r}")
            per_image.setdefault(a["image_id"], set()).add(cats[a["category_id"]])
    except (KeyError, TypeError) as e:
        raise DatasetError(f"{path}: COCO Camera Traps entry without the field {e}") from e
    root = images_root if images_root is not None else path.parent
    lab = _Labeller(label_map, EMPTY_NAMES)
    skipped: Counter[str] = Counter()
    samples: list[Sample] = []
    for image_id, name in files.items():
        names = per_image.get(image_id)
        if not names:
            skipped["no annotation"] += 1
            continue
        classes = {lab(n) for n in names}
        if None in classes:
            continue
        if len(classes) > 1:
            skipped["annotations of several classes"] += 1
            continue
        file = root / name
        if not file.is_file():
            skipped["file not on disk"] += 1
            continue
        samples.append(Sample(file, classes.pop(), sorted(names)[0], seqs.get(image_id)))
    lab.check(path)
    return Dataset(samples, "coco", path, dict(skipped))


def load_dataset(data: Path, label_map_path: Path | None = None,
                 images_root: Path | None = None) -> Dataset:
    """Read DATA (folder, .csv or .json) into firmware-class samples; DatasetError if unusable."""
    data = Path(data)
    label_map = read_label_map(label_map_path) if label_map_path is not None else None
    if data.is_dir():
        ds = load_folders(data, label_map)
    elif data.is_file() and data.suffix.lower() == ".csv":
        ds = load_csv(data, label_map)
    elif data.is_file() and data.suffix.lower() == ".json":
        ds = load_coco(data, label_map, images_root)
    elif not data.exists():
        raise DatasetError(f"{data}: not found")
    else:
        raise DatasetError(f"{data}: expected a folder per class, a .csv manifest or a COCO .json")
    if not ds.samples:
        why = "; ".join(f"{n} {r}" for r, n in ds.skipped.items())
        raise DatasetError(f"{data}: no usable images" + (f" (skipped: {why})" if why else ""))
    if len(ds.counts()) < 2:
        raise DatasetError(f"{data}: only one class ({next(iter(ds.counts()))}); training needs at least two")
    return ds
