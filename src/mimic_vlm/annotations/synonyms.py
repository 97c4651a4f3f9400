"""Other names people (and VLMs) use for a category, so the answer parser accepts "sofa" for `couch`.

Rule: a synonym belongs to exactly one category of a catalog, is never another category's own name and
never the head word of one ("monitor" is dropped for `television` where `computer monitor` exists);
`synonyms_for` drops any that would break this, so the parser never has to choose between two categories.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence

SYNONYMS: dict[str, dict[str, list[str]]] = {
    "coco": {
        "person": ["people", "man", "woman", "human", "child", "boy", "girl", "pedestrian"],
        "bicycle": ["bike", "cycle"],
        "motorcycle": ["motorbike", "motor bike", "scooter"],
        "airplane": ["aeroplane", "plane", "aircraft", "jet"],
        "car": ["automobile"],
        "traffic light": ["traffic signal", "stoplight", "stop light"],
        "fire hydrant": ["hydrant"],
        "parking meter": ["meter"],
        "sports ball": ["ball", "football", "soccer ball", "baseball", "tennis ball", "basketball"],
        "baseball glove": ["mitt", "baseball mitt", "glove"],
        "tennis racket": ["racket", "racquet", "tennis racquet"],
        "wine glass": ["glass", "wineglass"],
        "hot dog": ["hotdog", "sausage"],
        "donut": ["doughnut"],
        "couch": ["sofa", "settee"],
        "potted plant": ["houseplant", "plant", "pot plant", "flowerpot"],
        "dining table": ["table", "dinner table", "kitchen table"],
        "tv": ["television", "tv monitor", "tvmonitor", "monitor", "tv set", "television set", "screen"],
        "laptop": ["notebook computer", "notebook", "laptop computer"],
        "mouse": ["computer mouse"],
        "remote": ["remote control", "tv remote", "controller"],
        "keyboard": ["computer keyboard"],
        "cell phone": ["mobile phone", "phone", "smartphone", "cellphone", "mobile", "telephone"],
        "microwave": ["microwave oven"],
        "refrigerator": ["fridge"],
        "hair drier": ["hair dryer", "hairdryer", "blow dryer", "blow drier"],
        "teddy bear": ["teddy", "stuffed animal", "stuffed toy", "plush toy"],
        "handbag": ["purse", "bag"],
        "suitcase": ["luggage"],
        "skis": ["ski"],
        "sheep": ["lamb"],
        "cow": ["cattle"],
        "bus": ["coach"],
    },
    "toy": {
        "car": ["automobile"],
        "bicycle": ["bike", "cycle"],
        "cat": ["kitten", "kitty"],
        "bird": ["duck"],
        "cup": ["mug"],
        "tree": ["pine", "pine tree", "fir"],
        "stop sign": ["sign", "road sign", "traffic sign"],
        "ball": ["football", "soccer ball", "sports ball"],
        "racket": ["racquet", "tennis racket"],
        "bus": ["coach"],
    },
}
# OpenImages display names share many COCO words; reuse those entries keyed by the OpenImages name.
_OPENIMAGES_FROM_COCO = {"television": "tv", "mobile phone": "cell phone", "couch": "couch",
                         "motorcycle": "motorcycle", "airplane": "airplane", "bicycle": "bicycle",
                         "person": "person", "car": "car", "houseplant": "potted plant", "refrigerator": "refrigerator",
                         "microwave oven": "microwave", "hair dryer": "hair drier", "teddy bear": "teddy bear",
                         "laptop": "laptop", "computer keyboard": "keyboard", "computer mouse": "mouse",
                         "remote control": "remote", "doughnut": "donut", "wine glass": "wine glass",
                         "tennis racket": "tennis racket", "handbag": "handbag", "suitcase": "suitcase",
                         "traffic light": "traffic light", "fire hydrant": "fire hydrant", "bus": "bus"}


def _variants(name: str) -> list[str]:
    """Spelling variants of a display name: without a parenthesised qualifier, hyphens as spaces."""
    out = [re.sub(r"\s*\(.*?\)\s*", " ", name).strip(), name.replace("-", " ")]
    return [v for v in out if v and v != name]


def _table(source: str, categories: Sequence[str]) -> dict[str, list[str]]:
    if source != "openimages":
        return {c: list(SYNONYMS.get(source, {}).get(c, [])) for c in categories}
    coco = SYNONYMS["coco"]
    table = {}
    for c in categories:
        from_coco = _OPENIMAGES_FROM_COCO.get(c)
        extra = [from_coco, *coco[from_coco]] if from_coco else []
        table[c] = _variants(c) + extra
    return table


def synonyms_for(source: str, categories: Sequence[str]) -> dict[str, list[str]]:
    """Category -> its synonyms in this catalog, keeping only names that point at one category."""
    table = _table(source, categories)
    owners = Counter(s for c, syns in table.items() for s in set(syns))
    names = set(categories)
    heads: dict[str, set[str]] = {}  # "monitor" -> {"computer monitor"}: trailing words of every name
    for name in names:
        words = name.split()
        for k in range(1, len(words)):
            heads.setdefault(" ".join(words[k:]), set()).add(name)
    out = {}
    for c in categories:
        kept = sorted(s for s in set(table[c]) if owners[s] == 1 and s not in names and not heads.get(s, set()) - {c})
        if kept:
            out[c] = kept
    return out
