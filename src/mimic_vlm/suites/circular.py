"""Circular evaluation (VLMEvalKit's idea): every rotation of an item's options becomes its own sample.

An item counts correct only when all its rotations are right (`metrics.circular_accuracy`), which
removes the credit a model earns by favouring one letter. Rotations share `extra["circular_group"]` (the
original id) — not a control, which would give one breakdown row per item — and carry
`controls["rotation"]`, so accuracy per rotation shows position bias.
"""

from __future__ import annotations

import dataclasses

from mimic_vlm.evaluate import mcq
from mimic_vlm.schema import Sample

GROUP = "circular_group"


def can_rotate(sample: Sample) -> bool:
    return bool(sample.options) and str(sample.answer) in mcq.letters(len(sample.options or []))


def rotations(sample: Sample) -> list[Sample]:
    """All n rotations of a sample's options (rotation 0 is the original order, id suffix `-rot0`).

    A sample that cannot rotate (no option list, or a gold letter outside it) stays one sample in its
    own group, so it still counts once.
    """
    if not can_rotate(sample):
        return [dataclasses.replace(sample, controls={**sample.controls, "rotation": 0},
                                    extra={**sample.extra, GROUP: sample.id})]
    options = list(sample.options or [])
    n, gold = len(options), mcq.LETTERS.index(str(sample.answer))
    out = []
    for r in range(n):
        answer = mcq.LETTERS[(gold - r) % n]
        out.append(dataclasses.replace(
            sample, id=f"{sample.id}-rot{r}", options=options[r:] + options[:r], answer=answer, gt=answer,
            controls={**sample.controls, "rotation": r}, extra={**sample.extra, GROUP: sample.id}))
    return out
