"""Model atlas: every unit of a model's layers visualized (with negatives, diversity batches and dataset
examples), resumable, rendered in batches in this process or on a Ray cluster, published as a static
site and a Parquet manifest.

>>> from reverie.atlas import AtlasSettings
>>> AtlasSettings(layers=("blocks.9",), channels=(0, 1, 2)).batch
8

The names below are imported on first use, so ``reverie atlas serve`` starts without loading torch.
"""
from __future__ import annotations

import importlib

_PUBLIC = {  # module -> the names it gives the package face
    "reverie.atlas.build": ["BuildReport", "build_atlas"],
    "reverie.atlas.plan": ["AtlasSettings"],
    "reverie.atlas.reading": ["Atlas", "AtlasExample", "AtlasUnit", "open_atlas"],
    "reverie.executors": ["EXECUTORS", "LocalExecutor", "RayExecutor", "make_executor"],
}
_HOME = {name: module for module, names in _PUBLIC.items() for name in names}

__all__ = sorted(_HOME)  # the names of _PUBLIC, imported on first use


def __getattr__(name: str):
    if name not in _HOME:
        raise AttributeError(f"module 'reverie.atlas' has no attribute {name!r}")
    value = getattr(importlib.import_module(_HOME[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
