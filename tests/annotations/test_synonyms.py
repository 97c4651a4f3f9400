"""Synonym tables: every synonym points at exactly one category, never at another category's name."""

from __future__ import annotations

from pathlib import Path

import orjson

from mimic_vlm.annotations.synonyms import SYNONYMS, synonyms_for
from mimic_vlm.annotations.toyworld import TAXONOMY


def test_hand_tables_are_consistent_as_written(coco_sample: Path) -> None:
    raw = orjson.loads((coco_sample / "annotations" / "instances_val2017.json").read_bytes())
    for source, names in (("coco", [c["name"] for c in raw["categories"]]), ("toy", [c.name for c in TAXONOMY])):
        assert set(SYNONYMS[source]) <= set(names)
        # nothing the table says is dropped by the one-category rule
        assert synonyms_for(source, names) == {c: sorted(v) for c, v in SYNONYMS[source].items()}


def test_ambiguous_synonyms_are_dropped() -> None:
    names = ["television", "computer monitor", "mobile phone", "corded phone", "couch"]
    out = synonyms_for("openimages", names)
    assert "tv" in out["television"] and "television set" in out["television"]
    assert "monitor" not in out["television"]  # the head word of "computer monitor"
    assert "phone" not in out["mobile phone"] and "cell phone" in out["mobile phone"]  # head of "corded phone"
    assert out["couch"] == ["settee", "sofa"]
    assert synonyms_for("coco", ["couch", "sofa"]) == {"couch": ["settee"]}  # never another category's name
    assert synonyms_for("nowhere", ["thing"]) == {}
