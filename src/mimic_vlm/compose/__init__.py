"""Composing controlled multi-image samples from a Catalog (DESIGN.md: annotations -> Catalog -> composers).

`compose_bench` returns the samples (`bench/generate.py` writes them). Controls are parsed by `Controls.parse`;
each task's composer lives in its own module and shares the framework in base.py.
"""

from mimic_vlm.compose.controls import Controls
from mimic_vlm.compose.generate import compose_bench

__all__ = ["Controls", "compose_bench"]
