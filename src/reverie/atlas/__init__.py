"""Model atlas: every unit of a model's layers visualized (with negatives, diversity batches and dataset
examples), resumable, rendered in batches in this process or on a Ray cluster, published as a static
site and a Parquet manifest.

>>> from reverie.atlas import AtlasSettings
>>> AtlasSettings(layers=("blocks.9",), channels=(0, 1, 2)).batch
8
"""
from __future__ import annotations

from reverie.atlas.build import BuildReport, build_atlas
from reverie.atlas.plan import AtlasSettings
from reverie.atlas.reading import Atlas, AtlasExample, AtlasUnit, open_atlas
from reverie.executors import EXECUTORS, LocalExecutor, RayExecutor, make_executor

__all__ = [
           "EXECUTORS",
           "Atlas",
           "AtlasExample",
           "AtlasSettings",
           "AtlasUnit",
           "BuildReport",
           "LocalExecutor",
           "RayExecutor",
           "build_atlas",
           "make_executor",
           "open_atlas",
]
