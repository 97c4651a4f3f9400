"""Upper bounds of the numeric options: each fits a real use with room to spare and stops a typo (`--count
1000000000`, `--bootstrap 1e9`, `--timeout inf`) from running for days or exhausting memory before a word is said
(typer's range check refuses NaN and infinities too)."""

from __future__ import annotations

MAX_COUNT = 1_000_000
"""Samples per task (`generate`, `demo`, `sweep`): the released MIMIC has ~1,600 in all; training sets ~100k."""
MAX_BOOTSTRAP = 100_000
"""Bootstrap replicates: 1,000 is the default and 10,000 a careful report."""
MAX_PERMUTATIONS = 100
"""Shuffled orders per sample in `eval`: each is a whole extra pass over the bench."""
MAX_TIMEOUT_S = 86_400.0
"""Seconds one HTTP request may take, all of it (a day)."""
MAX_EPOCHS = 10_000.0
MAX_LR = 10.0
MAX_WEIGHT_DECAY = 10.0
MAX_LAYERS = 4_096
"""Decoder layers of a model shape (`cost`): the largest released models have ~130."""

