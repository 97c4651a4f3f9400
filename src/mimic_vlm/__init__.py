"""mimic-vlm: controlled multi-image benchmarks, evaluation, diagnostics and fine-tuning for VLMs."""

__version__ = "0.2.0"
