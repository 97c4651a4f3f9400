"""Rendering sections: markdown (figures as files beside it) and one self-contained HTML file."""

from __future__ import annotations

import base64
import html

from mimic_vlm.report.blocks import Html, Section, Table, Text


def render_markdown(sections: list[Section], title: str) -> str:
    out = [f"# {title}", ""]
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
p{white-space:pre-line}"""


def render_html(sections: list[Section], title: str) -> str:
    out = [f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
           f"<style>{_CSS}</style></head><body><h1>{html.escape(title)}</h1>"]
    for s in sections:
        out.append(f"<h2>{html.escape(s.title)}</h2>")
        for b in s.blocks:
            if isinstance(b, Text):
                text = html.escape(b.text)
                while "**" in text and text.count("**") >= 2:
                    text = text.replace("**", "<b>", 1).replace("**", "</b>", 1)
                out.append(f"<p>{text}</p>")
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
