"""Regenerate BENCHMARKS.md from the per-area result files that the benchmark scripts write.

    python benchmarks/assemble.py

`benchmarks/results/_summary.md` (the targets at a glance) comes first, then one section per area.
"""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
AREAS = ("annotations", "compose", "long", "scoring", "runner", "masking", "probe", "train", "remedies", "study",
         "benchmarks",
         "report", "threads")


def assembled() -> str:
    """BENCHMARKS.md as the result files make it."""
    parts = [(RESULTS / "_summary.md").read_text().rstrip() + "\n"]
    for area in AREAS:
        text = (RESULTS / f"{area}.md").read_text().strip()
        parts.append(text.replace("\n## ", "\n### ") + "\n")  # each area is one section; its parts go one level down
    return "\n".join(parts)


def main() -> None:
    (ROOT / "BENCHMARKS.md").write_text(assembled())


if __name__ == "__main__":
    main()
