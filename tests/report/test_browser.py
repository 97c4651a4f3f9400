"""The sample browser: its data (images once each, verdicts, targets) and the page in a real headless chromium
(Debian's, driven over the DevTools pipe): it loads, filters change the visible rows, no console errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from cdp import Browser, chromium_path
from report_files import right, write_test_bench

from mimic_vlm.plugins import REPORT_SECTIONS
from mimic_vlm.report import write_report
from mimic_vlm.report.browser import browser_data, verdict
from mimic_vlm.report.runs import load_runs
from mimic_vlm.store import load_bench

A_ANSWERS = {**right(range(0, 5)), "listing-000": "car, dog", "listing-001": ""}
B_ANSWERS = {**right(range(2, 9)), "listing-000": "car", "listing-001": "dog and car"}


@pytest.fixture
def report(bench, make_run, tmp_path) -> Path:
    runs = [make_run(bench, "a", A_ANSWERS), make_run(bench, "b", B_ANSWERS)]
    return write_report(runs, tmp_path / "report", REPORT_SECTIONS)


@pytest.fixture
def browser():
    binary = chromium_path()
    if binary is None:
        pytest.skip("chromium not installed (Debian: apt-get install -y chromium); the browser test needs it")
    b = Browser(binary)
    yield b
    b.close()


def test_verdicts():
    assert verdict(None) == "missing" and verdict({"missing": True, "correct": False}) == "missing"
    assert verdict({"correct": True, "unparsed": False}) == "right"
    assert verdict({"correct": False, "unparsed": True}) == "unparsed"
    assert verdict({"correct": False, "unparsed": False}) == "wrong"
    assert verdict({"exact": True, "f1": 1.0, "unparsed": False}) == "right"  # listing: the exact set


def test_browser_data(bench, make_run):
    runs = load_runs([make_run(bench, "a", A_ANSWERS), make_run(bench, "b", B_ANSWERS)])
    d = browser_data(bench, runs)
    assert d["runs"] == ["a", "b"] and len(d["samples"]) == 12
    assert len(d["thumbs"]) == len(d["full"]) == len(d["files"]) == 4  # each distinct image once
    assert all(t.startswith("data:image/webp;base64,") for t in d["thumbs"])
    first, listing = d["samples"][0], d["samples"][10]
    assert first["imgs"] == [0, 1] and first["tgt"] == [0]  # the dog is in image 1 only
    assert first["c"] == {"n_images": "2", "spread": "1"} and first["gold"] == "3"
    assert first["r"] == [["3", "3", "right"], ["0", "0", "wrong"]]
    assert listing["imgs"] == [2, 3] and listing["tgt"] == [0, 1] and listing["gold"] == "car, dog"
    assert listing["r"][1] == ["car", "car  (F1 0.67)", "wrong"]
    assert d["samples"][11]["r"][0][2] == "unparsed"
    assert d["controls"] == {"n_images": ["2", "4"], "spread": ["1", "2"]}


def test_report_has_the_browser_once(report):
    html = (report / "report.html").read_text()
    md = (report / "report.md").read_text()
    assert html.count("id='mb-data'") == 1 and "## Sample browser" in md and "(report.html only)" in md
    assert "<script" not in md and "Paired comparisons" in md


def _select(b: Browser, element: str, value: str) -> int:
    b.js(f"(() => {{const s = document.getElementById('{element}'); s.value = '{value}';"
         "s.dispatchEvent(new Event('change')); return 0;})()")
    return b.js("document.querySelectorAll('#mb-rows .mb-row').length")


def test_browser_page_in_chromium(report, browser):
    browser.open(report / "report.html")
    assert browser.js("document.getElementById('mb-count').textContent") == "12 of 12 samples"
    assert browser.js("document.querySelectorAll('#mb-rows .mb-row').length") == 12
    first = "document.querySelector('#mb-rows .mb-row')"
    assert browser.js(f"[...{first}.querySelectorAll('.mb-img span')].map(e => e.textContent)") == ["1", "2"]
    assert browser.js(f"[...{first}.querySelectorAll('.mb-img')].map(e => e.classList.contains('mb-t'))") == [
        True, False]
    decoded = f"(async () => {{const i = {first}.querySelector('.mb-img img'); await i.decode(); return i.naturalWidth}})()"
    assert browser.js(decoded) == 80  # a real, decodable thumbnail
    assert browser.js(f"[...{first}.querySelectorAll('td')].map(e => e.textContent)") == [
        "a", '"3"', "3", "right", "b", '"0"', "0", "wrong"]

    assert _select(browser, "mb-task", "listing") == 2
    assert _select(browser, "mb-task", "counting") == 10
    assert _select(browser, "mb-control", "n_images") == 10
    assert _select(browser, "mb-value", "4") == 4
    assert _select(browser, "mb-control", "") == 10
    assert _select(browser, "mb-pair", "fixed") == 4  # counting 5-8: a wrong, b right
    assert browser.js("[...document.querySelectorAll('#mb-rows .mb-row')].map(e => e.dataset.id)") == [
        f"counting-{k:03d}" for k in range(5, 9)]
    assert _select(browser, "mb-pair", "broken") == 2
    assert _select(browser, "mb-task", "") == 3  # + listing-000 (a exact, b not)
    assert _select(browser, "mb-pair", "") == 12
    assert _select(browser, "mb-verdict", "unparsed") == 1
    assert _select(browser, "mb-vrun", "1") == 0
    assert _select(browser, "mb-verdict", "notright") == 4  # b: counting 0, 1, 9 and listing-000
    assert browser.js("document.getElementById('mb-count').textContent") == "4 of 12 samples"

    browser.js("document.querySelector('#mb-rows .mb-img').click()")
    assert browser.js("document.getElementById('mb-overlay').hidden") is False
    assert browser.js("document.getElementById('mb-full').src").startswith("data:image/webp;base64,")
    browser.js("document.getElementById('mb-overlay').click()")
    assert browser.js("document.getElementById('mb-overlay').hidden") is True
    assert browser.errors == []


def test_browser_renders_lazily(tmp_path, make_run, browser):
    bench = load_bench(write_test_bench(tmp_path / "big", n_counting=250, n_listing=0))
    report = write_report([make_run(bench, "a", right(range(0, 250, 2)))], tmp_path / "rep", REPORT_SECTIONS)
    browser.open(report / "report.html")
    assert browser.js("document.getElementById('mb-count').textContent") == "250 of 250 samples"
    assert browser.js("mimicBrowser.rendered()") == 100
    browser.js("document.getElementById('mb-more-btn').click()")
    assert browser.js("mimicBrowser.rendered()") == 200
    assert _select(browser, "mb-verdict", "right") == 100  # 125 match; the first 100 are drawn
    assert browser.js("mimicBrowser.shown()") == 125
    assert browser.errors == []


def test_console_errors_are_seen(browser, tmp_path):
    """The check above can fail: a page that throws is caught."""
    page = tmp_path / "bad.html"
    page.write_text("<html><body><script>console.error('boom'); undefinedFunction();</script></body></html>")
    browser.open(page)
    assert any("boom" in e for e in browser.errors) and any("undefinedFunction" in e for e in browser.errors)


def test_markup_in_outputs_stays_text(bench, make_run, tmp_path, browser):
    """A model output holding markup is shown as text: it can neither end the data blob nor run."""
    evil = "</script><script>window.pwned = 1</script><!-- <b>3</b>"
    run = make_run(bench, "evil", {"counting-000": evil})
    report = write_report([run], tmp_path / "rep", REPORT_SECTIONS)
    html = (report / "report.html").read_text()
    assert "window.pwned" in html and "</script><script>window.pwned" not in html
    browser.open(report / "report.html")
    assert browser.js("typeof window.pwned") == "undefined"
    assert browser.js("document.querySelector('#mb-rows .mb-row td:nth-child(2)').textContent") == \
        '"</script><script>window.pwned = 1</script><!-- <b>3</b>"'
    assert browser.errors == []


def test_browser_shows_the_scored_part_of_a_bench(bench, tmp_path):
    from mimic_vlm.evaluate.runner import run_eval
    from mimic_vlm.models.registry import load_model

    run_eval(bench, load_model("oracle", bench=bench), tmp_path / "part", tasks=["listing"], command=["t"])
    d = browser_data(bench, load_runs([tmp_path / "part"]))
    assert [s["id"] for s in d["samples"]] == ["listing-000", "listing-001"] and d["tasks"] == ["listing"]
