"""Writing benches: layout, manifest, determinism, atomicity, refusals, training files, validation."""

from __future__ import annotations

import re

import orjson
import pytest

from mimic_vlm.bench.generate import generate_bench
from mimic_vlm.bench.training import LLAVA, MESSAGES
from mimic_vlm.bench.validate import validate_bench
from mimic_vlm.compose.controls import Controls
from mimic_vlm.errors import MimicError
from mimic_vlm.schema import TASKS
from mimic_vlm.store import load_bench

CONTROLS = Controls.parse(n_images="2-4")


def _generate(catalog, out, **kw):
    kw.setdefault("command", "mimic generate --test")
    return generate_bench(catalog, list(TASKS), 8, kw.pop("controls", CONTROLS), 5, out, **kw)


def test_layout_manifest_and_byte_identical(png_catalog, tmp_path):
    a, b = _generate(png_catalog, tmp_path / "a"), _generate(png_catalog, tmp_path / "b")
    for name in ("samples.jsonl", "manifest.json"):
        assert (a / name).read_bytes() == (b / name).read_bytes()
    bench = load_bench(a)
    assert len(bench.samples) == 32 and not (a / "images").exists()
    for s in bench.samples:
        for p, name in zip(bench.image_paths(s), s.images, strict=True):
            assert p.is_absolute() and p.is_file() and p.name == name.rsplit("/", 1)[-1]
    m = bench.manifest
    assert m["seed"] == 5 and m["command"] == "mimic generate --test" and m["images"] == "external"
    assert m["counts"]["tasks"] == {t: 8 for t in TASKS}
    assert sum(m["counts"]["controls"]["counting"]["n_images"].values()) == 8
    assert m["controls"]["n_images"] == "2-4" and m["vocabulary"]["dog"]["supercategory"] == "group 1"
    assert validate_bench(bench, png_catalog) == [] and validate_bench(bench) == []


def test_copy_images_makes_it_self_contained(png_catalog, tmp_path):
    bench = load_bench(_generate(png_catalog, tmp_path / "c", copy_images=True))
    assert bench.manifest["images"] == "copied"
    for s in bench.samples:
        assert all(re.fullmatch(r"images/\d{12}\.jpg", p) for p in s.images)
        assert all(p.is_file() for p in bench.image_paths(s))


def test_existing_output_refused_then_overwritten(png_catalog, tmp_path):
    out = tmp_path / "x"
    out.mkdir()
    (out / "keep").write_text("old")
    with pytest.raises(MimicError, match="output folder exists"):
        _generate(png_catalog, out)
    assert (out / "keep").exists()
    # issue 11: --overwrite replaces only a folder the tool made; a folder of other files is never deleted
    with pytest.raises(MimicError, match="holds files mimic did not write there"):
        _generate(png_catalog, out, overwrite=True)
    assert (out / "keep").read_text() == "old" and not (out / "samples.jsonl").exists()
    (out / "keep").unlink()
    _generate(png_catalog, out)  # an empty folder is fine without --overwrite
    before = (out / "samples.jsonl").read_bytes()
    _generate(png_catalog, out, overwrite=True)  # a bench it wrote is replaced
    assert (out / "samples.jsonl").read_bytes() == before


@pytest.mark.parametrize("damage", ["missing", "corrupt"])
def test_bad_image_leaves_nothing(png_catalog, tmp_path, damage):
    first = load_bench(_generate(png_catalog, tmp_path / "probe")).samples[0].images[0]
    victim = png_catalog.images_dir / first.rsplit("/", 1)[-1]
    if damage == "missing":
        victim.unlink()
    else:
        victim.write_bytes(b"\x89PNG\r\n\x1a\n not really")
    before = sorted(p.name for p in tmp_path.iterdir())
    message = "image not found" if damage == "missing" else "corrupt or unreadable image"
    with pytest.raises(MimicError, match=re.escape(str(victim)) + ": " + message):
        _generate(png_catalog, tmp_path / "bench", copy_images=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # no bench, no temp folder


def test_training_formats(png_catalog, tmp_path):
    out = _generate(png_catalog, tmp_path / "t", for_training=True, copy_images=True,
                    controls=Controls.parse(n_images="2-10"))
    samples = {s.id: s for s in load_bench(out).samples}
    llava = orjson.loads((out / LLAVA).read_bytes())
    messages = [orjson.loads(line) for line in (out / MESSAGES).read_bytes().splitlines()]
    assert [r["id"] for r in llava] == [r["id"] for r in messages] == list(samples)
    questions = set()
    for r, m in zip(llava, messages, strict=True):
        s = samples[r["id"]]
        assert r["image"] == m["images"] == s.images and 2 <= len(s.images) <= 10
        human, gpt = r["conversations"]
        assert (human["from"], gpt["from"]) == ("human", "gpt")
        assert human["value"] == "<image>\n" * len(s.images) + human["value"].split("\n")[-1]
        assert human["value"].count("<image>") == len(s.images)
        user, assistant = m["messages"]
        assert user["role"] == "user" and assistant["role"] == "assistant"
        assert user["content"][:-1] == [{"type": "image"}] * len(s.images)
        assert user["content"][-1] == {"type": "text", "text": human["value"].split("\n")[-1]}
        assert assistant["content"] == [{"type": "text", "text": gpt["value"]}]
        assert s.gt.lower() in gpt["value"].lower()
        questions.add((s.task, human["value"].split("\n")[-1].split(" ")[0]))
        assert all((out / p).is_file() for p in r["image"])
    assert len({q for q in questions if q[0] == "counting"}) >= 2  # paraphrased
    with pytest.raises(MimicError, match="training conversations hold at most 10 images"):
        _generate(png_catalog, tmp_path / "t11", for_training=True, controls=Controls.parse(n_images="11"))


def test_validate_catches_tampering(png_catalog, tmp_path):
    out = _generate(png_catalog, tmp_path / "v")
    lines = (out / "samples.jsonl").read_bytes().splitlines()
    rows = [orjson.loads(x) for x in lines]
    rows[0]["answer"] += 1
    rows[1]["controls"]["spread"] += 1
    odd = next(r for r in rows if r["task"] == "odd_one")
    odd["image_objects"][0]["zebra"] = 1  # a second odd one appears
    (out / "samples.jsonl").write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows))
    problems = validate_bench(out)
    assert any(p.startswith(f"{rows[0]['id']}: answer {rows[0]['answer']} but the images give") for p in problems)
    assert any(p.startswith(f"{rows[1]['id']}: control spread=") for p in problems)
    assert any(p.startswith(f"{odd['id']}: answer") for p in problems)
    with_catalog = validate_bench(out, png_catalog)
    assert any(p == f"{odd['id']}: image_objects / image_uncertain disagree with the annotations"
               for p in with_catalog)
