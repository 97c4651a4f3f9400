"""`run.json`: what `mimic eval` records in a run folder, read back by the runner (resume guard), `mimic score`
(which bench the predictions were made on) and the report (model, bench, manifest hash).

`settings` holds everything that changes a prediction line (model, prompting, official, bench manifest hash):
a rerun must match it exactly to append to the run. A hand-made or older run file may name its `model` at the
top level and its `bench` as an object (`{"path": ...}`); both are read as written.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mimic_vlm.errors import MimicError
from mimic_vlm.files import write_json_atomic
from mimic_vlm.schema import read_json

RUN_JSON = "run.json"

_FIELDS = ("settings", "runtime", "prompt_examples", "bench", "mimic_version", "permutations", "command",
           "generation")


@dataclass(frozen=True)
class RunRecord:
    settings: dict[str, Any] = field(default_factory=dict)
    """What shapes the answers: model, prompting, official, bench_manifest_hash (compared on every rerun)."""
    runtime: dict[str, Any] = field(default_factory=dict)
    """What does not change an answer (batch size, world size, the model's runtime settings)."""
    prompt_examples: dict[str, str] = field(default_factory=dict)
    """One prompt per task, as the model saw it."""
    bench: Any = None
    """The bench folder (a path; an object with `path` or `name` in hand-made files)."""
    mimic_version: str = ""
    permutations: int = 0
    command: list[str] = field(default_factory=list)
    generation: dict[str, Any] = field(default_factory=dict)
    """The token budgets per task and the reasoning preset and tags the run used (see `runner.generation_record`)."""
    extra: dict[str, Any] = field(default_factory=dict)
    """Every other key, kept as written (e.g. a top-level `model` in a hand-made run file)."""

    @property
    def model(self) -> dict[str, Any]:
        """The model settings: a top-level `model`, or `settings.model` as `mimic eval` writes it."""
        return self.extra.get("model") or self.settings.get("model") or {}

    @property
    def manifest_hash(self) -> str | None:
        """The manifest hash of the bench the run was scored against (None when the file does not say)."""
        digest = self.settings.get("bench_manifest_hash") or self.extra.get("bench_manifest_hash")
        return str(digest) if digest else None

    @property
    def bench_path(self) -> Path | None:
        path = self.bench.get("path") if isinstance(self.bench, dict) else self.bench
        return Path(path) if path else None

    @property
    def bench_name(self) -> str | None:
        """The bench's folder name, or the name a hand-made file gives it."""
        path = self.bench.get("path") or self.bench.get("name") if isinstance(self.bench, dict) else self.bench
        return Path(str(path)).name if path else None

    def to_dict(self) -> dict[str, Any]:
        return {"settings": self.settings, "runtime": self.runtime, "prompt_examples": self.prompt_examples,
                "bench": self.bench, "mimic_version": self.mimic_version,
                **({"permutations": self.permutations} if self.permutations else {}), "command": self.command,
                **({"generation": self.generation} if self.generation else {}), **self.extra}

    @classmethod
    def from_dict(cls, d: Any, where: str = RUN_JSON) -> RunRecord:
        """A run file's content, checked: an object whose `settings` and `model` are objects."""
        if not isinstance(d, dict) or not isinstance(d.get("settings", {}), dict) \
                or not isinstance(d.get("model", {}), dict) \
                or not isinstance((d.get("settings") or {}).get("model", {}), dict):
            raise MimicError(f"{where}: not a mimic run file (an object whose 'settings' and 'model' are objects)")
        def of(key: str, kind: type, empty: Any) -> Any:  # a hand-made file's odd value reads as empty
            return d[key] if isinstance(d.get(key), kind) else empty

        return cls(of("settings", dict, {}), of("runtime", dict, {}), of("prompt_examples", dict, {}),
                   d.get("bench"), of("mimic_version", str, ""), of("permutations", int, 0), of("command", list, []),
                   of("generation", dict, {}), {k: v for k, v in d.items() if k not in _FIELDS})

    def write(self, folder: Path) -> None:
        write_json_atomic(Path(folder) / RUN_JSON, self.to_dict())


def is_eval_run(d: Any) -> bool:
    """Whether a run file's content is a `mimic eval` run's (its answer settings recorded), not another tool's."""
    return isinstance(d, dict) and isinstance(d.get("settings"), dict)


def read_run(folder: Path) -> RunRecord | None:
    """The record in `folder`, or None when it holds no run.json; a malformed one is a MimicError."""
    path = Path(folder) / RUN_JSON
    return RunRecord.from_dict(read_json(path), str(path)) if path.is_file() else None
