"""Trainer callbacks: progress reports and file modes of checkpoints."""

from __future__ import annotations

import time
from pathlib import Path

from transformers import TrainerCallback

from mimic_vlm.files import honour_umask
from mimic_vlm.progress import Progress


class UmaskModes(TrainerCallback):
    """Checkpoint weights get the umask's mode, as every file the project writes (see `honour_umask`)."""

    def on_save(self, args, state, control, **kwargs):
        if state.is_world_process_zero:
            honour_umask(Path(args.output_dir))


class ReportProgress(TrainerCallback):
    """Hands the trainer's step, loss, learning rate and tokens/s to a `Progress` callback (main process only)."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.t0 = 0.0
        self.tokens0 = 0
        self.info = ""

    def on_train_begin(self, args, state, control, **kwargs):
        self.t0, self.tokens0 = time.perf_counter(), state.num_input_tokens_seen
        if state.is_world_process_zero:
            self.progress("train", state.global_step, state.max_steps)

    def on_step_end(self, args, state, control, **kwargs):
        if state.is_world_process_zero:
            self.progress("train", state.global_step, state.max_steps, self.info)

    def on_log(self, args, state, control, logs=None, **kwargs):
        if not state.is_world_process_zero or not logs or "loss" not in logs:
            return
        rate = (state.num_input_tokens_seen - self.tokens0) / max(time.perf_counter() - self.t0, 1e-9)
        self.info = f"loss {logs['loss']:.4f}  lr {logs.get('learning_rate', 0):.2e}  {rate:,.0f} tok/s"
        self.progress("train", state.global_step, state.max_steps, self.info)
