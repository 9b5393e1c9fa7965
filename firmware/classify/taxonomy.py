"""Firmware classes and the taxonomy file that maps a model's outputs onto them.

The mapping is data (models/taxonomy.csv), never code: each row names one model output
(its index and label), the firmware class it counts for, and whether it is evidence for the
target class in the policy's doubt rule.
"""
from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

FIRMWARE_CLASSES: tuple[str, ...] = (
    "amur_leopard", "tiger", "lynx", "leopard_cat", "deer", "wild_boar", "bear", "badger",
    "canid", "mustelid", "hare", "bird", "other_animal", "human", "vehicle", "blank",
)
BLANK = "blank"


class TaxonomyError(ValueError):
    """A taxonomy or labels file that does not fit the model or the firmware classes."""


def _data_rows(path: Path) -> list[dict[str, str]]:
    try:
        with path.open(newline="", encoding="utf-8") as f:
            lines = [ln for ln in f if ln.strip() and not ln.lstrip().startswith("#")]
    except OSError as e:
        raise TaxonomyError(f"{path}: cannot read ({e.strerror})") from e
    return list(csv.DictReader(lines))


def read_labels(path: Path) -> list[str]:
    """One model output label per line, in output order."""
    try:
        labels = [ln.rstrip("\n") for ln in path.read_text(encoding="utf-8").splitlines()]
    except OSError as e:
        raise TaxonomyError(f"{path}: cannot read ({e.strerror})") from e
    labels = [lb for lb in labels if lb]
    if not labels:
        raise TaxonomyError(f"{path}: no labels")
    return labels


@dataclass(frozen=True)
class Taxonomy:
    """Output index → firmware class, as a matrix that sums output probabilities per class."""

    labels: tuple[str, ...]
    classes: tuple[str, ...]            # firmware class of each output
    target_evidence: tuple[bool, ...]   # output counts towards the doubt rule

    @classmethod
    def read(cls, taxonomy_csv: Path, labels: list[str]) -> "Taxonomy":
        rows = _data_rows(taxonomy_csv)
        need = {"index", "model_label", "class", "target_evidence"}
        if not rows or not need <= set(rows[0]):
            raise TaxonomyError(f"{taxonomy_csv}: needs columns {sorted(need)}")
        by_index: dict[int, tuple[str, bool]] = {}
        for n, row in enumerate(rows, start=2):
            where = f"{taxonomy_csv} row {n}"
            try:
                idx = int(row["index"])
            except ValueError:
                raise TaxonomyError(f"{where}: index {row['index']!r} is not an integer") from None
            if not 0 <= idx < len(labels):
                raise TaxonomyError(f"{where}: index {idx} outside the model's {len(labels)} outputs")
            if idx in by_index:
                raise TaxonomyError(f"{where}: index {idx} listed twice")
            if row["model_label"] != labels[idx]:
                raise TaxonomyError(
                    f"{where}: label {row['model_label']!r} but the model's output {idx} is {labels[idx]!r}")
            if row["class"] not in FIRMWARE_CLASSES:
                raise TaxonomyError(
                    f"{where}: class {row['class']!r} is not a firmware class ({', '.join(FIRMWARE_CLASSES)})")
            if row["target_evidence"] not in ("0", "1"):
                raise TaxonomyError(f"{where}: target_evidence must be 0 or 1, got {row['target_evidence']!r}")
            by_index[idx] = (row["class"], row["target_evidence"] == "1")
        missing = [i for i in range(len(labels)) if i not in by_index]
        if missing:
            raise TaxonomyError(
                f"{taxonomy_csv}: {len(missing)} model outputs have no class (first: {missing[0]} "
                f"{labels[missing[0]]!r})")
        return cls(labels=tuple(labels),
                   classes=tuple(by_index[i][0] for i in range(len(labels))),
                   target_evidence=tuple(by_index[i][1] for i in range(len(labels))))

    @classmethod
    def identity(cls, target: str = "amur_leopard") -> "Taxonomy":
        """A model whose outputs are the firmware classes themselves (fine-tuned head)."""
        return cls(labels=FIRMWARE_CLASSES, classes=FIRMWARE_CLASSES,
                   target_evidence=tuple(c == target for c in FIRMWARE_CLASSES))

    def write(self, path: Path) -> None:
        with path.open("w", newline="", encoding="utf-8") as f:
            f.write("# Model output index -> firmware class (see MODEL_CARD.md).\n")
            w = csv.writer(f)
            w.writerow(["index", "model_label", "class", "target_evidence"])
            for i, (lb, c, t) in enumerate(zip(self.labels, self.classes, self.target_evidence, strict=True)):
                w.writerow([i, lb, c, int(t)])

    def matrix(self) -> np.ndarray:
        """(n_outputs, n_firmware_classes) 0/1 matrix: probs @ matrix = per-class mass."""
        m = np.zeros((len(self.labels), len(FIRMWARE_CLASSES)), np.float32)
        for i, c in enumerate(self.classes):
            m[i, FIRMWARE_CLASSES.index(c)] = 1.0
        return m

    def evidence_vector(self) -> np.ndarray:
        return np.array(self.target_evidence, np.float32)


def read_label_map(path: Path) -> dict[str, str]:
    """Dataset label → firmware class (e.g. models/realdata_labels.csv)."""
    rows = _data_rows(path)
    if not rows or not {"label", "class"} <= set(rows[0]):
        raise TaxonomyError(f"{path}: needs columns label,class")
    out: dict[str, str] = {}
    for n, row in enumerate(rows, start=2):
        if row["class"] not in FIRMWARE_CLASSES:
            raise TaxonomyError(f"{path} row {n}: class {row['class']!r} is not a firmware class")
        out[row["label"].strip()] = row["class"]
    return out
