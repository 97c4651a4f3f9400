"""Benches on disk: `samples.jsonl` + `manifest.json` (+ images)."""

from mimic_vlm.store import Bench, load_bench

__all__ = ["Bench", "load_bench"]
