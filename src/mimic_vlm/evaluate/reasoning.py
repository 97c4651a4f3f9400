"""Thinking blocks apart from the answer: a reasoning model's `<think>...</think>` is read, never scored.

Picking a number out of a whole reasoning trace scores the numbers the model considered and dropped ("I see 8
here, or 9? Recount."), and an output cut by the token limit in the middle of its thinking has given no answer
at all: it is *truncated*, counted apart from *unparsed* (an answer that was given but cannot be read).

The rules, for tags (OPEN, CLOSE), matched without regard to case:

- the answer is the text after the last CLOSE; everything before it is reasoning (the OPEN tags dropped).
  Chat templates that put OPEN in the prompt (Qwen3, DeepSeek-R1) leave only CLOSE in the output: the same
  rule reads them;
- an OPEN with no CLOSE after it means the output ended inside a block: truncated, no answer (text before
  that OPEN is reasoning too: it was written before the model went back to thinking);
- an output without tags is all answer.

A server that separates the reasoning itself (vLLM / SGLang `reasoning_content`) hands it over apart; it is
joined in front of what the tags hold. Whether an output that hit the token limit gave an answer is decided by
the scorer (it parsed or not), so `hit_limit` only rides along here.
"""

from __future__ import annotations

from dataclasses import dataclass

from mimic_vlm.errors import MimicError

THINK_TAGS = ("<think>", "</think>")


@dataclass(frozen=True)
class Split:
    answer: str
    """What the scorer reads (stripped)."""
    reasoning: str
    """The thinking text, tags removed ("" when there was none)."""
    unclosed: bool
    """The output ended inside a thinking block: truncated, whatever the answer text."""


def parse_tags(text: str) -> tuple[str, str]:
    """`--reasoning-tags OPEN,CLOSE` -> (OPEN, CLOSE); both non-empty and different."""
    open_tag, sep, close_tag = text.partition(",")
    open_tag, close_tag = open_tag.strip(), close_tag.strip()
    if not sep or not open_tag or not close_tag or "," in close_tag or open_tag.lower() == close_tag.lower():
        raise MimicError(f"--reasoning-tags {text!r}: expected OPEN,CLOSE, two different tags, "
                         "e.g. '<think>,</think>'")
    return open_tag, close_tag


def split_reasoning(output: str, tags: tuple[str, str] = THINK_TAGS, server_reasoning: str | None = None) -> Split:
    """The answer and the reasoning of one raw output (rules in the module docstring)."""
    open_tag, close_tag = tags
    lower = output.lower()
    end = lower.rfind(close_tag.lower())
    head, answer = (output[:end], output[end + len(close_tag):]) if end >= 0 else ("", output)
    unclosed = False
    reopened = answer.lower().rfind(open_tag.lower())
    if reopened >= 0:  # a block opened after the last close (or with none) never closed
        head, answer, unclosed = f"{head}{close_tag if end >= 0 else ''}{answer}", "", True
    thinking = _drop(_drop(head, open_tag), close_tag)
    parts = [p.strip() for p in (server_reasoning or "", thinking) if p and p.strip()]
    return Split(answer=answer.strip(), reasoning="\n".join(parts), unclosed=unclosed)


def _drop(text: str, tag: str) -> str:
    """`text` without any occurrence of `tag` (any case), its pieces kept on their own lines."""
    lower, low_tag, pieces, start = text.lower(), tag.lower(), [], 0
    while (i := lower.find(low_tag, start)) >= 0:
        pieces.append(text[start:i])
        start = i + len(tag)
    pieces.append(text[start:])
    return "\n".join(p.strip() for p in pieces if p.strip())
