"""The sample browser of report.html: every sample of the bench with its images, question, gold answer and
each run's raw output, parse and verdict, with filters (task, control value, verdict, fixed / broken by B).

It stays one self-contained offline file and usable at 10,000 samples: the data is one JSON blob read by a
small script that renders rows lazily (100 at a time, as the page scrolls); each distinct image is embedded
once, as a small WebP thumbnail, and samples refer to it by index. A click opens the image large: embedded
enlargements when the bench has at most `FULL_LIMIT` distinct images, else the image file itself (its
absolute path, readable while the bench is where it was).

The runs shown are the scored runs on the bench of the first one (same bench manifest hash); runs on other
benches are named in a note.
"""

from __future__ import annotations

import base64
import html
import io
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import orjson

from mimic_vlm.errors import MimicError
from mimic_vlm.evaluate.metrics import control_key, control_order
from mimic_vlm.images import _UNREADABLE, open_image
from mimic_vlm.report.blocks import Html, Section, Text
from mimic_vlm.report.runs import RunData
from mimic_vlm.schema import target_images
from mimic_vlm.store import SAMPLES, Bench, load_bench

THUMB = 80
"""Longest side of the grid thumbnails, in pixels."""
FULL = 640
"""Longest side of the embedded enlargements."""
FULL_LIMIT = 300
"""Distinct images up to which enlargements are embedded (a toy or demo bench); beyond, the file is linked."""
VERDICTS = ("right", "wrong", "unparsed", "truncated", "missing")


def encode_image(path: Path, size: int, quality: int = 70) -> str | None:
    """A `data:image/webp` URI of the image shrunk to `size` px (longest side); None if it cannot be read."""
    try:
        with open_image(path) as source:
            source.draft("RGB", (size, size))  # JPEG: decode at a reduced scale, several times faster
            im = source.convert("RGB")
            im.thumbnail((size, size))
            buf = io.BytesIO()
            im.save(buf, format="WEBP", quality=quality, method=0)  # the fastest; a 80 px thumbnail stays ~1 KB
    except (FileNotFoundError, *_UNREADABLE):
        return None
    return "data:image/webp;base64," + base64.b64encode(buf.getvalue()).decode()


def verdict(row: dict[str, Any] | None) -> str:
    """right / wrong / unparsed / truncated / missing: `correct` (else listing's exact set) decides right;
    truncated = cut by the token limit before an answer."""
    if row is None or row.get("missing"):
        return "missing"
    field = "correct" if row.get("correct") is not None else "exact"
    if row.get(field):
        return "right"
    return "unparsed" if row.get("unparsed") else "truncated" if row.get("truncated") else "wrong"


def _parse_text(row: dict[str, Any]) -> str:
    parsed = row.get("parsed")
    text = "–" if parsed is None else ", ".join(map(str, parsed)) if isinstance(parsed, list) else str(parsed)
    if row.get("f1") is not None and row.get("correct") is None:
        text += f"  (F1 {row['f1']:.2f})"
    return text


def _answer_text(answer: Any) -> str:
    return ", ".join(map(str, answer)) if isinstance(answer, list) else str(answer)


def browser_data(bench: Bench, runs: list[RunData]) -> dict[str, Any]:
    """The JSON the page reads: runs, images (thumbnails, enlargements, file URIs), controls, samples."""
    index: dict[Path, int] = {}
    samples: list[dict[str, Any]] = []
    by_run = [{r["id"]: r for r in run.predictions} for run in runs]
    scored = {i for rows in by_run for i in rows}
    for s in bench.samples:
        if scored and s.id not in scored:  # a run over part of a bench (--limit, --task) shows that part
            continue
        paths = bench.image_paths(s)
        imgs = [index.setdefault(p, len(index)) for p in paths]
        holds = target_images(s, bench.vocabulary) or [False] * len(paths)
        results = []
        for rows in by_run:
            row = rows.get(s.id)
            results.append(None if row is None else [str(row.get("output", "")), _parse_text(row), verdict(row)])
        samples.append({"id": s.id, "task": s.task, "q": s.question, "gold": _answer_text(s.answer),
                        "imgs": imgs, "tgt": [int(i) for i, h in enumerate(holds) if h],
                        "c": {k: control_key(v) for k, v in s.controls.items()}, "r": results})
    full = len(index) <= FULL_LIMIT
    images = list(index)
    controls: dict[str, set[str]] = {}
    for smp in samples:
        for k, v in smp["c"].items():
            controls.setdefault(k, set()).add(v)
    with ThreadPoolExecutor(min(8, os.cpu_count() or 1)) as pool:  # decoding and resizing release the GIL
        thumbs = list(pool.map(lambda p: encode_image(p, THUMB), images))
        large = list(pool.map(lambda p: encode_image(p, FULL, 80), images)) if full else None
    return {"runs": [r.name for r in runs], "thumbs": thumbs, "full": large,
            "files": [p.resolve().as_uri() for p in images],
            "tasks": sorted({s["task"] for s in samples}),
            "controls": {k: sorted(v, key=control_order) for k, v in sorted(controls.items())},
            "samples": samples}


def browser_html(data: dict[str, Any]) -> str:
    """The view: filters, the row container, the overlay, the data blob and the script."""
    blob = orjson.dumps(data).decode().replace("<", "\\u003c")  # no "</script>" or "<!--" inside the script
    return (f"<div id='mb'><style>{_CSS}</style>{_FILTERS}<div id='mb-rows'></div>"
            "<div id='mb-more'><button type='button' id='mb-more-btn'>show more</button></div>"
            "<div id='mb-overlay' hidden><img id='mb-full' alt='full-size image'><div id='mb-caption'></div></div>"
            f"<script type='application/json' id='mb-data'>{blob}</script><script>{_SCRIPT}</script></div>")


def _bench_of(run: RunData) -> Path | None:
    path = run.record.bench_path
    return path if path and (path / SAMPLES).is_file() else None


def _digest(run: RunData) -> str | None:
    digest = run.record.settings.get("bench_manifest_hash")
    return str(digest) if digest else None


def browser_section(runs: list[RunData]) -> Section | None:
    """The browser over the bench of the first scored run whose bench folder is still there."""
    scored = [r for r in runs if not r.diagnostics and r.predictions]
    first = next((r for r in scored if _bench_of(r) is not None), None)
    if first is None:
        return None
    try:
        bench = load_bench(_bench_of(first))  # type: ignore[arg-type]
    except MimicError:
        return None
    if _digest(first) is not None and bench.manifest_hash != _digest(first):  # regenerated since the run
        note = (f"Not shown: the bench {bench.root} changed after run {first.name} was scored (its manifest hash "
                "differs from the one in run.json), so its outputs cannot be paired with the questions there now; "
                "rerun mimic eval on the bench as it is.")
        return Section("Sample browser", [Text(note)])
    same = [r for r in scored if r is first or (_digest(r) is not None and _digest(r) == _digest(first))
            or (_digest(r) is None and _bench_of(r) == _bench_of(first))]
    others = [r.name for r in scored if r not in same]
    data = browser_data(bench, same)
    n = len(data["samples"])  # those any of the runs scored
    note = (f"Every scored sample of {bench.root.name} ({n}) with its images, question, gold answer and "
            f"each run's output, parse and verdict: {', '.join(r.name for r in same)}. Filters: task, control "
            "value, verdict, fixed / broken by B. Click an image to open it large. Images framed in green hold "
            "a target (a category the question asks about).")
    if others:
        note += f" Runs on other benches are not shown: {', '.join(others)}."
    md_note = note.replace("Click an image", "In report.html: click an image")
    view = browser_html(data)
    return Section("Sample browser", [Html(f"<p>{html.escape(note)}</p>" + view, md_note + " (report.html only)")])


_FILTERS = """<div class='mb-filters'>
<label>task <select id='mb-task'><option value=''>all</option></select></label>
<label>control <select id='mb-control'><option value=''>–</option></select></label>
<label>value <select id='mb-value' disabled><option value=''>all</option></select></label>
<label>verdict of <select id='mb-vrun'></select></label>
<label>is <select id='mb-verdict'><option value=''>any</option><option value='right'>right</option>
<option value='notright'>not right</option><option value='wrong'>wrong (parsed)</option>
<option value='unparsed'>unparsed</option><option value='truncated'>truncated</option>
<option value='missing'>missing</option></select></label>
<label>A <select id='mb-a'></select></label><label>B <select id='mb-b'></select></label>
<label><select id='mb-pair'><option value=''>all samples</option><option value='fixed'>fixed by B</option>
<option value='broken'>broken by B</option><option value='differ'>A and B differ</option></select></label>
<label>id <input id='mb-search' size='14' placeholder='contains'></label>
<span id='mb-count'></span></div>"""

_CSS = """#mb .mb-filters{position:sticky;top:0;background:#fff;padding:.5em 0;border-bottom:1px solid #ddd;z-index:2;
font-size:.85em;display:flex;flex-wrap:wrap;gap:.4em 1em;align-items:center}#mb-count{color:#555;font-weight:600}
.mb-row{border-bottom:1px solid #e4e4e4;padding:.6em 0}.mb-head{font-size:.8em;color:#555}.mb-head b{color:#222}
.mb-chip{display:inline-block;background:#eef;border-radius:3px;padding:0 .35em;margin-left:.35em}
.mb-imgs{display:flex;flex-wrap:wrap;gap:4px;margin:.3em 0}.mb-img{position:relative;border:3px solid #ccc;
cursor:zoom-in;line-height:0;min-width:40px;min-height:40px;background:#f4f4f4}.mb-img.mb-t{border-color:#2a2}
.mb-img span{position:absolute;top:0;left:0;background:rgba(0,0,0,.65);color:#fff;font-size:10px;line-height:1.3;
padding:0 3px}.mb-q{margin:.2em 0}.mb-gold{color:#264;font-size:.9em}#mb table{font-size:.8em;margin:.3em 0}
#mb td{vertical-align:top;max-width:36em;white-space:pre-wrap;word-break:break-word}.v-right{color:#181;font-weight:600}
.v-wrong{color:#b11;font-weight:600}.v-unparsed{color:#c60;font-weight:600}.v-truncated{color:#a5a;font-weight:600}
.v-missing{color:#888}
#mb-overlay{position:fixed;inset:0;background:rgba(0,0,0,.82);display:flex;flex-direction:column;align-items:center;
justify-content:center;z-index:9;cursor:zoom-out}#mb-overlay[hidden]{display:none}#mb-full{max-width:92vw;
max-height:85vh;image-rendering:auto;background:#fff}#mb-caption{color:#eee;margin-top:.5em;font-size:.9em}
#mb-caption a{color:#9cf}#mb-more{padding:1em 0;text-align:center}"""

_SCRIPT = r"""(function(){
'use strict';
const D = JSON.parse(document.getElementById('mb-data').textContent);
const $ = (id) => document.getElementById(id);
const CHUNK = 100;
let shown = [], rendered = 0;
function opt(sel, value, text){const o=document.createElement('option');o.value=value;o.textContent=text;sel.appendChild(o);}
function el(tag, cls, text){const e=document.createElement(tag);if(cls)e.className=cls;if(text!==undefined)e.textContent=text;return e;}
D.tasks.forEach(t => opt($('mb-task'), t, t));
Object.keys(D.controls).forEach(c => opt($('mb-control'), c, c));
D.runs.forEach((r, i) => {opt($('mb-vrun'), i, r); opt($('mb-a'), i, r); opt($('mb-b'), i, r);});
if (D.runs.length > 1) $('mb-b').value = '1';
if (D.runs.length < 2) {$('mb-pair').disabled = true;}
function fillValues(){
  const sel = $('mb-value'), c = $('mb-control').value;
  sel.textContent = ''; opt(sel, '', 'all');
  sel.disabled = !c;
  if (c) D.controls[c].forEach(v => opt(sel, v, v));
}
const right = (r) => r !== null && r[2] === 'right';
function keep(s){
  const task = $('mb-task').value, c = $('mb-control').value, v = $('mb-value').value;
  if (task && s.task !== task) return false;
  if (c && !(c in s.c)) return false;
  if (c && v && s.c[c] !== v) return false;
  const q = $('mb-search').value.trim();
  if (q && s.id.indexOf(q) < 0) return false;
  const want = $('mb-verdict').value;
  if (want && D.runs.length) {
    const r = s.r[+$('mb-vrun').value], got = r === null ? 'missing' : r[2];
    if (want === 'notright' ? got === 'right' : got !== want) return false;
  }
  const pair = $('mb-pair').value;
  if (pair && D.runs.length > 1) {
    const a = right(s.r[+$('mb-a').value]), b = right(s.r[+$('mb-b').value]);
    if (pair === 'fixed' && !(b && !a)) return false;
    if (pair === 'broken' && !(a && !b)) return false;
    if (pair === 'differ' && a === b) return false;
  }
  return true;
}
function row(s){
  const d = el('div', 'mb-row'); d.dataset.id = s.id;
  const h = el('div', 'mb-head'); h.appendChild(el('b', '', s.id)); h.appendChild(document.createTextNode(' · ' + s.task));
  Object.keys(s.c).forEach(k => h.appendChild(el('span', 'mb-chip', k + '=' + s.c[k])));
  d.appendChild(h);
  const imgs = el('div', 'mb-imgs');
  s.imgs.forEach((k, j) => {
    const f = el('div', 'mb-img' + (s.tgt.indexOf(j) >= 0 ? ' mb-t' : ''));
    f.title = 'image ' + (j + 1) + (s.tgt.indexOf(j) >= 0 ? ' (holds a target)' : '');
    if (D.thumbs[k]) {const i = el('img'); i.src = D.thumbs[k]; i.alt = 'image ' + (j + 1); f.appendChild(i);}
    f.appendChild(el('span', '', String(j + 1)));
    f.addEventListener('click', () => openImage(k, s.id, j));
    imgs.appendChild(f);
  });
  d.appendChild(imgs);
  d.appendChild(el('div', 'mb-q', s.q));
  d.appendChild(el('div', 'mb-gold', 'gold: ' + s.gold));
  if (D.runs.length) {
    const t = el('table'), hr = el('tr');
    ['run', 'output', 'parsed', 'verdict'].forEach(x => hr.appendChild(el('th', '', x)));
    t.appendChild(hr);
    s.r.forEach((r, i) => {
      const tr = el('tr');
      tr.appendChild(el('td', '', D.runs[i]));
      tr.appendChild(el('td', '', r === null ? '' : JSON.stringify(r[0])));
      tr.appendChild(el('td', '', r === null ? '' : r[1]));
      tr.appendChild(el('td', 'v-' + (r === null ? 'missing' : r[2]), r === null ? 'missing' : r[2]));
      t.appendChild(tr);
    });
    d.appendChild(t);
  }
  return d;
}
function renderMore(){
  const box = $('mb-rows'), end = Math.min(shown.length, rendered + CHUNK);
  const frag = document.createDocumentFragment();
  for (; rendered < end; rendered++) frag.appendChild(row(shown[rendered]));
  box.appendChild(frag);
  $('mb-more').hidden = rendered >= shown.length;
}
function apply(){
  shown = D.samples.filter(keep); rendered = 0;
  $('mb-rows').textContent = '';
  $('mb-count').textContent = shown.length + ' of ' + D.samples.length + ' samples';
  renderMore();
}
function openImage(k, id, j){
  const img = $('mb-full'), cap = $('mb-caption');
  img.onerror = () => {img.onerror = null; if (D.thumbs[k]) img.src = D.thumbs[k];};
  img.src = (D.full && D.full[k]) || D.files[k];
  cap.textContent = id + ', image ' + (j + 1) + ' ';
  const a = el('a', '', 'open the file'); a.href = D.files[k]; a.target = '_blank';
  a.addEventListener('click', (e) => e.stopPropagation());
  cap.appendChild(a);
  $('mb-overlay').hidden = false;
}
$('mb-overlay').addEventListener('click', () => {$('mb-overlay').hidden = true;});
document.addEventListener('keydown', (e) => {if (e.key === 'Escape') $('mb-overlay').hidden = true;});
$('mb-control').addEventListener('change', () => {fillValues(); apply();});
['mb-task', 'mb-value', 'mb-vrun', 'mb-verdict', 'mb-a', 'mb-b', 'mb-pair'].forEach(id => $(id).addEventListener('change', apply));
$('mb-search').addEventListener('input', apply);
$('mb-more-btn').addEventListener('click', renderMore);
if ('IntersectionObserver' in window) {
  new IntersectionObserver((es) => {if (es.some(e => e.isIntersecting) && rendered < shown.length) renderMore();})
    .observe($('mb-more'));
}
window.mimicBrowser = {apply: apply, shown: () => shown.length, rendered: () => rendered};
apply();
})();"""
