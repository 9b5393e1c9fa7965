"""Taxonomy file validation and the classifier config's cross-field rules."""
from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from conftest import REPO
from firmware.classify.config import ClassifierConfig, PolicyConfig
from firmware.classify.taxonomy import FIRMWARE_CLASSES, Taxonomy, TaxonomyError, read_label_map, read_labels


def write(tmp_path: Path, body: str) -> Path:
    p = tmp_path / "taxonomy.csv"
    p.write_text("# comment\nindex,model_label,class,target_evidence\n" + body)
    return p


def test_shipped_taxonomy_covers_every_output():
    labels = read_labels(REPO / "models" / "labels.txt")
    tax = Taxonomy.read(REPO / "models" / "taxonomy.csv", labels)
    assert len(tax.classes) == len(labels) == 1000
    assert tax.classes[labels.index("leopard")] == "amur_leopard"
    assert set(tax.classes) <= set(FIRMWARE_CLASSES)
    m = tax.matrix()
    assert (m.sum(axis=1) == 1).all()


@pytest.mark.parametrize("body,msg", [
    ("0,a,amur_leopard,1\n", "no class"),                     # output 1 missing
    ("0,a,amur_leopard,1\n1,x,deer,0\n", "label 'x'"),         # label mismatch
    ("0,a,amur_leopard,1\n1,b,unicorn,0\n", "not a firmware class"),
    ("0,a,amur_leopard,1\n1,b,deer,yes\n", "target_evidence"),
    ("0,a,amur_leopard,1\n0,a,deer,0\n", "twice"),
    ("0,a,amur_leopard,1\n5,b,deer,0\n", "outside"),
])
def test_bad_taxonomy_rows_are_refused(tmp_path, body, msg):
    with pytest.raises(TaxonomyError, match=msg):
        Taxonomy.read(write(tmp_path, body), ["a", "b"])


def test_good_taxonomy_and_identity(tmp_path):
    tax = Taxonomy.read(write(tmp_path, "0,a,amur_leopard,1\n1,b,blank,0\n"), ["a", "b"])
    assert tax.classes == ("amur_leopard", "blank") and tax.target_evidence == (True, False)
    ident = Taxonomy.identity()
    out = tmp_path / "ident.csv"
    ident.write(out)
    assert Taxonomy.read(out, list(FIRMWARE_CLASSES)) == ident


def test_label_map_refuses_unknown_class(tmp_path):
    p = tmp_path / "m.csv"
    p.write_text("label,class\nfoo,dragon\n")
    with pytest.raises(TaxonomyError, match="dragon"):
        read_label_map(p)
    assert read_label_map(REPO / "models" / "realdata_labels.csv")["leopard"] == "amur_leopard"


def test_policy_config_cross_field_rules():
    with pytest.raises(ValidationError, match="cannot be discarded"):
        PolicyConfig(actions={"amur_leopard": "discard"})
    with pytest.raises(ValidationError, match="unknown classes"):
        PolicyConfig(actions={"yeti": "keep"})
    with pytest.raises(ValidationError, match="target_doubt"):
        PolicyConfig(target_doubt=0.6, min_score=0.3)
    with pytest.raises(ValidationError, match="animal class"):
        PolicyConfig(target_class="blank")
    with pytest.raises(ValidationError, match="nothing to classify"):
        ClassifierConfig(max_boxes=0, whole_frame=False)
