"""mimic-vlm: controlled multi-image benchmarks, evaluation, diagnostics and fine-tuning for VLMs."""

__version__ = "0.1.0"
