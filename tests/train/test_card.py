"""The trained folder's README.md is the run's own model card (issue 22): base, method, data with hashes, mask
layers and backend, steps, seed, resolution and the command; none of PEFT's template."""

from __future__ import annotations

import hashlib
import json

from mimic_vlm.cli import main
from mimic_vlm.train.card import invocation
from mimic_vlm.train.engine import TRAIN_SETTINGS


def test_train_writes_a_real_model_card(toy, tmp_path, monkeypatch):
    out = tmp_path / "lora-mask"
    args = ["train", "--model", "tiny:qwen2_vl", "--data", str(toy["llava"]), "--out", str(out), "--lora-r", "4",
            "--max-steps", "2", "--batch-size", "2", "--mask-layers", "2-3", "--seed", "7", "--max-pixels", "3136"]
    monkeypatch.setattr("sys.argv", ["/usr/bin/mimic", *args])  # the command line the card records
    main(args)
    card = (out / "README.md").read_text()
    record = json.loads((out / TRAIN_SETTINGS).read_text())
    digest = hashlib.sha256(toy["llava"].read_bytes()).hexdigest()
    assert "More Information Needed" not in card and "base_model: ''" not in card
    assert card.startswith("---\nlibrary_name: peft\ntags:\n- mimic-vlm\n")
    assert "# lora-mask: LoRA adapter of tiny:qwen2_vl" in card
    assert "| base model | `tiny:qwen2_vl` |" in card and "| method | `lora` |" in card
    assert "| LoRA | r 4, alpha 32, dropout 0.05 |" in card
    assert "| image-block attention mask | layers `2-3`, backend `auto` (ran as `blocks`) |" in card
    assert f"| `{toy['llava']}` | `{digest}` | all | 8 | 8 | 0 |" in card
    assert f"| steps | `{record['steps']}` |" in card and record["steps"] == 2
    assert "| seed | `7` |" in card and "| max pixels per image | `3136` |" in card
    assert f"```bash\nmimic {' '.join(args)}\n```" in card
    assert f"mimic eval BENCH --model tiny:qwen2_vl --adapter {out} --out RUN" in card


def test_invocation_names_the_command_as_typed():
    assert invocation(["/venv/bin/mimic", "train", "--out", "a b"]) == "mimic train --out 'a b'"
    assert invocation(["python", "-m", "mimic_vlm", "train", "--seed", "1"]) == "mimic train --seed 1"
    assert invocation(["job.py", "--x"]) == "python job.py --x"
