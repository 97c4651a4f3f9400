"""Diagnostics of multi-image failure: attention by layer (`attention`), vision-token pooling (`pooling`),
and controlled sweeps along one control (`sweep`)."""
