"""Annotation sources turned into one compact `Catalog` (per-image category counts + taxonomy)."""

from mimic_vlm.annotations.catalog import Catalog

__all__ = ["Catalog"]
