"""Models behind one protocol: transformers (hf / tiny), OpenAI-compatible servers, reference baselines."""
