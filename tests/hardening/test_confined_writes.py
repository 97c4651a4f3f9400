"""issue 23 §2: names from data never become paths outside `--out`, and text from data reaches the terminal
escaped (an ESC sequence in a sample id or a category name is shown, never sent)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from hardening_helpers import rows, write_rows

from mimic_vlm.safe_paths import file_stem, stays_inside
from mimic_vlm.terminal import printable


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Path:
    from mimic_vlm.cli import main

    out = tmp_path_factory.mktemp("w") / "world"
    main(["toy", "--out", str(out), "--toy-images", "12"])
    return out


def test_generate_copy_images_refuses_a_file_name_that_climbs_out(world, tmp_path, cli):
    """COCO `file_name` `../../../E.png` was copied to three folders above the bench's images folder."""
    root = tmp_path / "a" / "b" / "c"
    images = root / "images"
    images.mkdir(parents=True)
    ann = json.loads((world / "annotations.json").read_text())
    for image in ann["images"]:  # each name points three folders up, where the file really is
        shutil.copy(world / "images" / image["file_name"], tmp_path / "a" / image["file_name"])
        image["file_name"] = f"../../../{image['file_name']}"
    (root / "ann.json").write_text(json.dumps(ann))
    out = tmp_path / "bench"
    r = cli("generate", "--source", "coco", "--annotations", root / "ann.json", "--images-dir", images,
            "--copy-images", "--out", out, "--count", "3", "--task", "counting")
    r.one_error_line("ann.json: image file_name '../../../", "' would be copied outside the bench's images folder")
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["a"]
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == sorted(["b", *(p.name for p in (world / "images").iterdir())])


@pytest.mark.parametrize("bad_id", ["../../../X", "/abs/X", "a/../../X", ".hidden", "\x1b[2Jid"])
def test_pack_maps_an_unsafe_sample_id_to_a_safe_file_name(bench_dir, tmp_path, cli, bad_id):
    data = rows(bench_dir / "samples.jsonl")
    data[0]["id"] = bad_id.replace("/abs", str(tmp_path / "abs"))
    write_rows(bench_dir / "samples.jsonl", data)
    (tmp_path / "abs").mkdir()
    out = tmp_path / "deep" / "er" / "packed"
    assert cli("pack", bench_dir, "--out", out).code == 0
    written = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*-packed.png"))
    stem = file_stem(data[0]["id"])
    assert written == sorted([f"deep/er/packed/images/{stem}-packed.png",
                              "deep/er/packed/images/counting-000001-packed.png"])
    assert list((tmp_path / "abs").iterdir()) == []
    assert rows(out / "samples.jsonl")[0]["images"][0] == f"images/{stem}-packed.png"  # recorded in the sample
    assert cli("inspect", out, "--sheet", tmp_path / "s.png").code == 0  # the packed bench reads back


def test_file_stem_and_stays_inside():
    assert file_stem("counting-000017") == "counting-000017"
    assert file_stem("../../../X") == "X-" + file_stem("../../../X").rsplit("-", 1)[1]
    assert file_stem("../../../X") != file_stem("../../X") and "/" not in file_stem("/abs/X")
    assert [stays_inside(n) for n in ("a.png", "sub/a.png", "a/../b.png", "../E.png", "/etc/x", "a/../../b",
                                      "", ".", "C:x.png", "a\\..\\b")] == [True, True, True] + [False] * 7


def test_printable_escapes_control_characters():
    assert printable("dog") == "dog" and printable("hot dog") == "hot dog"
    assert printable("a\x1b]0;PWNED\x07b\r\n\u202ec") == "a\\x1b]0;PWNED\\x07b\\r\\n\\u202ec"


ESC_ID = "\x1b]0;PWNED\x07\x1b[2Jcounting-x"
ESC_CAT = "d\x1b[2Jog"


def _escape_bench(bench: Path) -> None:
    data = rows(bench / "samples.jsonl")
    data[0]["id"] = ESC_ID
    data[1]["targets"] = [ESC_CAT]
    data[1]["image_objects"][1][ESC_CAT] = 1
    write_rows(bench / "samples.jsonl", data)


def test_inspect_and_validate_print_data_escaped(bench_dir, tmp_path, cli):
    _escape_bench(bench_dir)
    for argv in (["inspect", bench_dir, "--sheet", tmp_path / "s.png"], ["validate", bench_dir]):
        r = cli(*argv)
        assert "\x1b" not in r.out + r.err and "\x07" not in r.out + r.err, (argv, r.out, r.err)
    assert "\\x1b[2Jog" in cli("validate", bench_dir).out  # the problem is shown, escaped


def test_an_error_line_prints_data_escaped(bench_dir, tmp_path, cli):
    preds = tmp_path / "p.jsonl"
    write_rows(preds, [{"id": "\x1b[2Jnosuch\nline two", "output": "3"}])
    r = cli("score", bench_dir, "--predictions", preds, "--bootstrap", "10")
    line = r.one_error_line(str(preds))
    assert "\x1b" not in r.err and "\\x1b[2Jnosuch" in line


@pytest.mark.parametrize(("name", "problem"), [
    ("", "category name '' is empty"), ("  ", "category name '  ' is empty"),
    ("d\x1b[2jog", "category name 'd\\x1b[2jog' holds the control character \\x1b"),
    ("dog\n", "category name 'dog\\n' holds the control character \\n"), (" dog", "category name ' dog' starts or ends with a space"),
])
def test_a_category_name_unfit_for_a_question_is_refused_at_load(world, tmp_path, cli, name, problem):
    """G3: a category named "" asked "How many s are there" with gold ", carrot"."""
    ann = json.loads((world / "annotations.json").read_text())
    ann["categories"][0]["name"] = name
    path = tmp_path / "ann.json"
    path.write_text(json.dumps(ann))
    cli("generate", "--source", "coco", "--annotations", path, "--images-dir", world / "images", "--out",
        tmp_path / "b", "--count", "2").one_error_line(f"{path}: {problem}")
    assert not (tmp_path / "b").exists()
