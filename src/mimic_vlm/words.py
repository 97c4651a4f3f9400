"""English plurals of category names: one table for phrasing questions and for reading answers.

`plural` gives the one form a question uses ("wine glass" -> "wine glasses"); `plural_forms` gives every form an
answer may use for one word (the canonical plural first), so the parser accepts "fishes" and "cactuses" too.
"""

from __future__ import annotations

import re

IRREGULAR: dict[str, tuple[str, ...]] = {
    "person": ("people", "persons"), "man": ("men",), "woman": ("women",), "child": ("children",),
    "mouse": ("mice",), "foot": ("feet",), "tooth": ("teeth",), "goose": ("geese",), "knife": ("knives",),
    "leaf": ("leaves",), "shelf": ("shelves",), "wolf": ("wolves",), "loaf": ("loaves",), "scarf": ("scarves",),
    "calf": ("calves",), "half": ("halves",), "life": ("lives",), "wife": ("wives",), "ox": ("oxen",),
    "tv": ("tvs",), "cactus": ("cacti", "cactuses"), "dice": ("dice", "dices"), "louse": ("lice",),
}
"""word -> (canonical plural, other accepted plurals)."""
UNCHANGED = frozenset({
    "sheep", "deer", "fish", "skis", "scissors", "broccoli", "glasses", "sunglasses", "jeans", "shorts",
    "trousers", "pants", "goggles", "binoculars", "headphones", "moose", "bison", "squid", "shrimp", "swine",
    "cattle", "seafood", "luggage", "furniture", "footwear", "clothing", "sushi", "pasta", "popcorn", "bread",
    "cheese", "salad", "food", "jewelry", "series", "species",
    # the last words of OpenImages classes named in the plural ("Salt and pepper shakers", "Baked goods")
    "cosmetics", "chopsticks", "earrings", "stairs", "skates", "supplies", "shakers", "fries", "sockets",
    "invertebrates", "goods", "heels", "butterflies", "bags", "maracas",
})
"""Words whose plural is the word itself (answers may still use the regular form, e.g. "fishes")."""


def _regular(word: str) -> tuple[str, ...]:
    if re.search(r"(s|x|z|ch|sh)$", word):
        return (word + "es",)
    if re.search(r"[^aeiou]y$", word):
        return (word[:-1] + "ies",)
    if word.endswith("o"):
        return (word + "s", word + "es")
    return (word + "s",)


def plural_forms(word: str) -> tuple[str, ...]:
    """Every plural an answer may use for a lower-case word, the canonical one first."""
    if word in IRREGULAR:
        return IRREGULAR[word]
    if word in UNCHANGED:
        return (word, *_regular(word))
    return _regular(word)


def plural(name: str) -> str:
    """The plural a question uses; compounds inflect their last word ("wine glass" -> "wine glasses"), an
    "X of Y" its X ("chest of drawers" -> "chests of drawers")."""
    head, of, tail = name.partition(" of ")
    if of and head:
        return f"{plural(head)}{of}{tail}"
    head, _, last = name.rpartition(" ")
    low = last.lower()
    if low in UNCHANGED:
        word = last
    elif low in IRREGULAR:
        word = IRREGULAR[low][0]
    else:  # a suffix, or y -> ies: keep the word's own spelling of the stem
        form = _regular(low)[0]
        word = last + form[len(low):] if form.startswith(low) else last[:-1] + form[len(low) - 1:]
    return f"{head} {word}" if head else word
