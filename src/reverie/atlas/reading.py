"""Opening a finished atlas from its folder: its model, layers and units with their files (for the
studio's channel browser, notebooks, or any script)."""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from reverie.atlas.build import INFO
from reverie.atlas.manifest import read_manifest
from reverie.atlas.plan import file_part
from reverie.errors import ReverieError


@dataclass(frozen=True)
class AtlasExample:
    """A dataset photo that excites a unit: its crop in the atlas, the photo's path relative to the
    dataset folder, the unit's maximum on it, and the crop's box (left, top, right, bottom)."""

    crop: Path
    source: str
    score: float
    box: tuple[int, int, int, int]


@dataclass(frozen=True)
class AtlasUnit:
    """One unit (channel) of a layer, with absolute paths to its files."""

    layer: str
    unit: int
    image: Path                   # its feature visualization (PNG carrying its recipe)
    page: Path                    # its page in the static site
    activation: float
    gain: float
    dead: bool
    grey: bool
    negative: Path | None = None
    diversity: Path | None = None
    examples: tuple[AtlasExample, ...] = ()

    @property
    def address(self) -> str:
        """``LAYER:UNIT``: the unit's anchor on the site (``index.html#blocks.9:7``)."""
        return f"{self.layer}:{self.unit}"


@dataclass(frozen=True)
class Atlas:
    """A finished atlas: the model it maps, its settings and, per layer in build order, its units."""

    folder: Path
    model: str
    model_hash: str
    settings: dict
    layers: dict[str, list[AtlasUnit]] = field(default_factory=dict)

    @property
    def index(self) -> Path:
        return self.folder / "index.html"

    def unit(self, layer: str, unit: int) -> AtlasUnit:
        """A unit by layer and number; a ReverieError names what the atlas holds."""
        if layer not in self.layers:
            raise ReverieError(f"the atlas has no layer '{layer}' (it has {', '.join(self.layers)})")
        for found in self.layers[layer]:
            if found.unit == unit:
                return found
        raise ReverieError(f"the atlas has no unit {unit} of {layer}")

    def thumbnails(self, layer: str) -> list[tuple[int, Path]]:
        """(unit, image path) of every unit of ``layer``: what a channel browser shows."""
        return [(found.unit, found.image) for found in self.layers[layer]]


def open_atlas(folder: str | os.PathLike) -> Atlas:
    """The atlas built in ``folder`` (by ``reverie atlas build`` or :func:`reverie.atlas.build_atlas`)."""
    folder = Path(folder)
    path = folder / INFO
    if not path.is_file():
        raise ReverieError(f"{folder} holds no atlas ({INFO} is missing)")
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise ReverieError(f"cannot read {path}") from None
    layers: dict[str, list[AtlasUnit]] = {}
    for row in read_manifest(folder):
        optional = {name: folder / row[column] for name, column in
                    (("negative", "negative_image"), ("diversity", "diversity_image")) if row[column]}
        examples = tuple(AtlasExample(folder / e["crop"], e["source"], e["score"], tuple(e["box"]))
                         for e in row["examples"] or [])
        layers.setdefault(row["layer"], []).append(AtlasUnit(
            row["layer"], row["unit"], folder / row["image"],
            folder / "units" / file_part(row["layer"]) / f"{row['unit']}.html",
            row["activation"], row["gain"], row["dead"], row["grey"], examples=examples, **optional))
    return Atlas(folder, info["model"], info["model_hash"], info["settings"], layers)
