"""Rendering sections: markdown (figures as files beside it) and one self-contained HTML file."""

from __future__ import annotations

import base64
import html
import re

from mimic_vlm.report.blocks import Html, Section, Table, Text

TOC_FROM = 3
"""A report of this many sections or more opens with a table of contents."""


def anchor(title: str) -> str:
    """A section's id: its title lower-cased, runs of other characters as one '-' (GitHub's anchors for the
    titles reports use), so `[...](#sample-browser)` works in report.md and report.html alike."""
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")


def render_markdown(sections: list[Section], title: str) -> str:
    out = [f"# {title}", ""]
    if len(sections) >= TOC_FROM:
        out += [f"- [{s.title}](#{anchor(s.title)})" for s in sections] + [""]
    for s in sections:
        out += [f"## {s.title}", ""]
        for b in s.blocks:
            if isinstance(b, Text):
                out += [b.text, ""]
            elif isinstance(b, Table):
                out += ["| " + " | ".join(_md_cell(h) for h in b.headers) + " |",
                        "|" + "---|" * len(b.headers)]
                out += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in b.rows]
                out.append("")
            elif isinstance(b, Html):
                out += [b.note, ""]
            else:
                out += [f"![{b.caption}](figures/{b.name}.png)", ""]
    return "\n".join(out)


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


_CSS = """body{font-family:system-ui,sans-serif;max-width:1200px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:.8em 0;font-size:.88em}th,td{border:1px solid #ccc;padding:.25em .6em;
text-align:left}th{background:#f3f3f3}tr:nth-child(even) td{background:#fafafa}img{max-width:100%}
h2{border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:1.6em}figcaption{color:#666;font-size:.85em}
p{white-space:pre-line}nav ul{columns:2;margin:.4em 0 1em}li{margin:.15em 0}"""


def _inline(text: str) -> str:
    """Escaped text with **bold** and links to the report's own sections (`[text](#anchor)`)."""
    text = html.escape(text)
    text = re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", text)
    return re.sub(r"\[([^\]]+)\]\((#[a-z0-9-]+)\)", r"<a href='\2'>\1</a>", text)


def text_html(text: str) -> str:
    """A Text block: paragraphs split on blank lines; a paragraph of "- " lines is a list."""
    out = []
    for para in (p for p in text.split("\n\n") if p.strip()):
        lines = para.strip("\n").split("\n")
        if all(line.startswith("- ") for line in lines):
            out.append("<ul>" + "".join(f"<li>{_inline(line[2:])}</li>" for line in lines) + "</ul>")
        else:
            out.append(f"<p>{_inline(para)}</p>")
    return "".join(out)


def render_html(sections: list[Section], title: str) -> str:
    out = [f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
           f"<style>{_CSS}</style></head><body><h1>{html.escape(title)}</h1>"]
    if len(sections) >= TOC_FROM:
        out.append("<nav><b>Contents</b><ul>" + "".join(
            f"<li><a href='#{anchor(s.title)}'>{html.escape(s.title)}</a></li>" for s in sections) + "</ul></nav>")
    for s in sections:
        out.append(f"<h2 id='{anchor(s.title)}'>{html.escape(s.title)}</h2>")
        for b in s.blocks:
            if isinstance(b, Text):
                out.append(text_html(b.text))
            elif isinstance(b, Table):
                head = "".join(f"<th>{html.escape(h)}</th>" for h in b.headers)
                body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>"
                               for row in b.rows)
                out.append(f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")
            elif isinstance(b, Html):
                out.append(b.html)
            else:
                data = base64.b64encode(b.png).decode()
                out.append(f"<figure><img alt='{html.escape(b.caption)}' src='data:image/png;base64,{data}'>"
                           f"<figcaption>{html.escape(b.caption)}</figcaption></figure>")
    out.append("</body></html>")
    return "\n".join(out)
