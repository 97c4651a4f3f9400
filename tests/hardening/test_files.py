"""issue 11 §4: deleted and corrupt images, and path confinement: no file outside the bench is ever exported."""

from __future__ import annotations

import pytest
from hardening_helpers import rows, write_rows
from PIL import Image

FORMATS = ["hf", "lmms-eval", "vlmevalkit"]


def test_validate_and_pack_on_a_deleted_image(bench_dir, tmp_path, cli):
    sample = rows(bench_dir / "samples.jsonl")[0]  # one (the two are duplicates), in the generator's phrasing
    sample["question"] = "How many dogs are there in total across all the images?"
    write_rows(bench_dir / "samples.jsonl", [sample])
    assert cli("validate", bench_dir).code == 0
    (bench_dir / "images" / "img_2.png").unlink()
    r = cli("validate", bench_dir)
    assert r.code == 1 and f"counting-000000: image {bench_dir / 'images' / 'img_2.png'} is missing" in r.out
    assert "1 disagreement(s)" in r.out and "Traceback" not in r.out + r.err
    cli("pack", bench_dir, "--out", tmp_path / "packed").one_error_line("refers to missing image", "img_2.png")
    assert not (tmp_path / "packed").exists()


@pytest.mark.parametrize("fmt", FORMATS)
def test_export_refuses_a_corrupt_image(bench_dir, tmp_path, cli, fmt):
    png = (bench_dir / "images" / "img_1.png").read_bytes()
    (bench_dir / "images" / "img_1.png").write_bytes(png[: len(png) // 2])  # truncated: the header still reads
    cli("export", bench_dir, "--format", fmt, "--out", tmp_path / "x").one_error_line(
        "sample 'counting-000000'", "img_1.png: corrupt or unreadable image")
    assert not (tmp_path / "x").exists() and [p.name for p in tmp_path.iterdir()] == ["bench"]


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("path", ["../../../../etc/passwd", "/etc/passwd", "images/../../outside.png"])
def test_export_never_embeds_a_file_outside_the_bench(bench_dir, tmp_path, cli, fmt, path):
    Image.new("RGB", (8, 8)).save(tmp_path / "outside.png")  # a real image, but beside the bench
    data = rows(bench_dir / "samples.jsonl")
    data[1]["images"][0] = path
    write_rows(bench_dir / "samples.jsonl", data)
    r = cli("export", bench_dir, "--format", fmt, "--out", tmp_path / "x")
    r.one_error_line("sample 'counting-000001'", "outside the bench folder" if not path.startswith("/")
                     else "/etc/passwd: corrupt or unreadable image")
    assert not (tmp_path / "x").exists()


def test_an_absolute_image_path_that_is_an_image_is_exported(bench_dir, tmp_path, cli):
    Image.new("RGB", (8, 8), (1, 2, 3)).save(tmp_path / "elsewhere.png")
    data = rows(bench_dir / "samples.jsonl")
    data[1]["images"][0] = str(tmp_path / "elsewhere.png")
    write_rows(bench_dir / "samples.jsonl", data)
    assert cli("export", bench_dir, "--format", "vlmevalkit", "--out", tmp_path / "x").code == 0


def test_inspect_sheet_never_draws_a_file_outside_the_bench(bench_dir, tmp_path, cli):
    Image.new("RGB", (8, 8)).save(tmp_path / "outside.png")
    data = rows(bench_dir / "samples.jsonl")
    data[0]["images"][0] = "../outside.png"
    write_rows(bench_dir / "samples.jsonl", data)
    cli("inspect", bench_dir, "--sheet", tmp_path / "s.png").one_error_line("'../outside.png', outside the bench")
    assert not (tmp_path / "s.png").exists()
    data[0]["images"][0] = "/etc/passwd"  # absolute: drawn only if it decodes as an image; here a grey tile
    write_rows(bench_dir / "samples.jsonl", data)
    assert cli("inspect", bench_dir, "--sheet", tmp_path / "s.png", "--limit", "1").code == 0
    with Image.open(tmp_path / "s.png") as sheet:
        assert sheet.convert("RGB").getpixel((8 + 80, 8 + 20)) == (200, 200, 200)
