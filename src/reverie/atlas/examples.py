"""Dataset examples: for every unit, the real images that excite it most, and where in them.

One streaming pass over a folder of the user's photos: each is decoded at reduced size, its shorter
side scaled to ``side`` and centre-cropped square, then run through the model in batches with the
forward cut short after the deepest requested layer. For every channel a running top-k keeps the best
images by the channel's maximum over positions, with the position of that maximum; memory holds one
batch and k entries per channel, whatever the number of photos. Ties keep the earlier file (files are
read in sorted order), so the same folder always gives the same examples.

The crop shown for an example is a square around the maximum's receptive centre: four cells of the
layer's map (four strides), at least an eighth of the image, clipped to it.
"""
from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError
from torch import nn

from reverie.atlas.plan import file_part
from reverie.engine.progress import (
    Progress,
    ProgressCallback,
    StopSignal,
    stop_requested,
)
from reverie.errors import ReverieError
from reverie.io.atomic import atomic_path
from reverie.recorder import ActivationRecorder

DATASET_SIDE = 224     # the side photos are scaled and cropped to: the embedded model's training size
TOP_K = 8              # examples kept per unit
# Photos per forward pass. bench/atlas_dataset.py on a shared 2-core CPU, one thread, 224 px: 7.3, 4.4
# and 3.4 photos/s at batch 4, 16 and 32 (larger batches spill the caches); a GPU would want more.
DATASET_BATCH = 4
CROP_CELLS = 4         # the crop spans this many cells of the layer's map...
MIN_CROP_FRACTION = 8  # ...and at least 1/8 of the image's side


@dataclass(frozen=True)
class Example:
    """One of a unit's top images: the file (relative to the dataset folder), the unit's maximum on it,
    and the crop around that maximum as (left, top, right, bottom) in the ``side`` x ``side`` image."""

    source: str
    score: float
    box: tuple[int, int, int, int]


@dataclass(frozen=True)
class DatasetExamples:
    """Every channel's top examples, per layer, and the files that could not be read."""

    key: str                                      # hashes the model, layers, settings and the files' stats
    side: int
    examples: dict[str, list[list[Example]]]      # layer -> channel -> best first
    images: int                                   # photos read
    skipped: tuple[str, ...]                      # files that are not readable images

    def to_json(self) -> str:
        data = {"key": self.key, "side": self.side, "images": self.images, "skipped": list(self.skipped),
                "examples": {layer: [[[e.source, e.score, list(e.box)] for e in unit] for unit in units]
                             for layer, units in self.examples.items()}}
        return json.dumps(data, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> DatasetExamples:
        data = json.loads(text)
        examples = {layer: [[Example(s, float(v), tuple(b)) for s, v, b in unit] for unit in units]
                    for layer, units in data["examples"].items()}
        return cls(data["key"], data["side"], examples, data["images"], tuple(data["skipped"]))


def dataset_files(folder: str | os.PathLike) -> list[Path]:
    """Every file under ``folder`` (hidden ones excepted), in sorted order; a ReverieError for a folder
    that does not exist or holds nothing."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ReverieError(f"dataset folder not found: {folder}" if not folder.exists()
                           else f"--dataset must be a folder of images, got the file {folder}")
    files = sorted(path for path in folder.rglob("*") if path.is_file()
                   and not any(part.startswith(".") for part in path.relative_to(folder).parts))
    if not files:
        raise ReverieError(f"dataset folder {folder} holds no files")
    return files


def dataset_key(model_digest: str, layers: Sequence[str], side: int, top_k: int, folder: Path,
                files: Sequence[Path]) -> str:
    """Changes when the model, the layers, the settings or any file (name, size, modification time) do."""
    stats = [(str(path.relative_to(folder)), path.stat().st_size, path.stat().st_mtime_ns) for path in files]
    text = json.dumps([model_digest, sorted(layers), side, top_k, stats])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def load_photo(path: Path, side: int) -> torch.Tensor | None:
    """``path`` as [1, 3, side, side] in [0, 1] (shorter side scaled, centre-cropped), or None when it is
    not an image PIL can decode. JPEGs are decoded at reduced size when they are much larger."""
    try:
        with Image.open(path) as picture:
            picture.draft("RGB", (side, side))  # a JPEG decodes at 1/2, 1/4 or 1/8 size: far faster
            picture = picture.convert("RGB")
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        return None
    width, height = picture.size
    scale = side / min(width, height)
    resized = picture.resize((max(side, round(width * scale)), max(side, round(height * scale))),
                             Image.Resampling.BICUBIC, reducing_gap=3.0)
    left, top = (resized.width - side) // 2, (resized.height - side) // 2
    array = np.asarray(resized.crop((left, top, left + side, top + side)), dtype=np.float32) / 255.0
    return torch.from_numpy(array).permute(2, 0, 1).unsqueeze(0)  # [H, W, 3] -> [1, 3, H, W]


def crop_box(row: int, column: int, map_height: int, map_width: int, side: int) -> tuple[int, int, int, int]:
    """The square around map cell (row, column)'s centre in a ``side`` px image, clipped to the image."""
    # A layer's map is centred on the image with a whole-pixel stride (a convolution without padding
    # loses a border: 64 px -> 30 cells is stride 2, not 64/30), so cells are placed from the middle out.
    stride_y, stride_x = (max(1, round(side / cells)) for cells in (map_height, map_width))
    size = min(side, max(CROP_CELLS * max(stride_y, stride_x), side // MIN_CROP_FRACTION))
    centre_y = side / 2 + (row - (map_height - 1) / 2) * stride_y
    centre_x = side / 2 + (column - (map_width - 1) / 2) * stride_x
    left = int(min(max(round(centre_x - size / 2), 0), side - size))
    top = int(min(max(round(centre_y - size / 2), 0), side - size))
    return left, top, left + size, top + size


def find_examples(model: nn.Module, folder: str | os.PathLike, layers: Sequence[str], *, key: str = "",
                  side: int = DATASET_SIDE, top_k: int = TOP_K, batch: int = DATASET_BATCH,
                  device: torch.device | str = "cpu", progress: ProgressCallback | None = None,
                  stop: StopSignal | None = None) -> DatasetExamples | None:
    """The top ``top_k`` photos of every channel of ``layers`` (see the module docstring); None when
    ``stop`` was set before the pass finished. A ReverieError when no file is a readable image."""
    folder = Path(folder)
    files = dataset_files(folder)
    device = torch.device(device)
    best: dict[str, tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = {}  # scores, image ids, positions
    shapes: dict[str, tuple[int, int]] = {}
    names: list[str] = []   # readable photos, by image id
    skipped: list[str] = []
    done = 0

    with torch.no_grad(), ActivationRecorder(model, layers) as recorder:
        for start in range(0, len(files), batch):
            if stop_requested(stop):
                return None
            photos = []
            for path in files[start:start + batch]:
                photo = load_photo(path, side)
                if photo is None:
                    skipped.append(str(path.relative_to(folder)))
                    continue
                photos.append(photo)
                names.append(str(path.relative_to(folder)))
            done += len(files[start:start + batch])
            if photos:
                first = len(names) - len(photos)
                activations = recorder(torch.cat(photos).to(device))
                for layer in layers:
                    _merge(best, shapes, layer, activations[layer], first, top_k)
            if progress is not None:
                progress(Progress(f"dataset, {done}/{len(files)} files", 0, 0, done, len(files), float("nan")))
    if not names:
        shown = ", ".join(skipped[:3]) + (", ..." if len(skipped) > 3 else "")
        raise ReverieError(f"dataset folder {folder} holds no readable image ({len(skipped)} files skipped: {shown})")

    examples = {}
    for layer in layers:
        scores, ids, positions = best[layer]
        height, width = shapes[layer]
        units = []
        for channel in range(scores.shape[0]):
            units.append([Example(names[int(i)], float(s), crop_box(int(p) // width, int(p) % width, height, width,
                                                                   side))
                          for s, i, p in zip(scores[channel], ids[channel], positions[channel])
                          if int(i) >= 0])
        examples[layer] = units
    return DatasetExamples(key, side, examples, len(names), tuple(skipped))


def _merge(best: dict, shapes: dict, layer: str, activation: torch.Tensor, first: int, top_k: int) -> None:
    """Fold one batch's activations [B, C, H, W] of ``layer`` into its running top-k per channel."""
    if activation.ndim != 4:
        raise ReverieError(f"layer {layer} gives {list(activation.shape)}, not [B, C, H, W]; dataset examples "
                           "need image-shaped layers")
    count, channels, height, width = activation.shape
    shapes[layer] = (height, width)
    flat = activation.float().reshape(count, channels, height * width).cpu()   # [B, C, H, W] -> [B, C, H*W]
    peak, where = flat.max(dim=2)                                              # [B, C] each
    ids = torch.arange(first, first + count).unsqueeze(1).expand(count, channels)
    new = (peak.T, ids.T, where.T)                                             # [C, B] each
    if layer in best:
        new = tuple(torch.cat([old, batch], dim=1) for old, batch in zip(best[layer], new))  # earlier first
    order = torch.sort(new[0], dim=1, descending=True, stable=True).indices[:, :top_k]  # ties: earlier wins
    best[layer] = tuple(torch.gather(part, 1, order) for part in new)


def write_crops(examples: DatasetExamples, folder: str | os.PathLike, atlas: Path,
                units: dict[str, Sequence[int]]) -> dict[tuple[str, int], list[dict]]:
    """Save the crop of each example of ``units`` (layer -> channels) under ``atlas``/examples/, reading
    each photo once; crops already there are kept. Returns (layer, unit) -> the manifest's example entries."""
    folder = Path(folder)
    entries: dict[tuple[str, int], list[dict]] = {}
    wanted: dict[str, list[tuple[Path, tuple[int, int, int, int]]]] = {}
    for layer, channels in units.items():
        for unit in channels:
            rows = []
            for rank, example in enumerate(examples.examples[layer][unit]):
                crop = f"examples/{file_part(layer)}/{unit}-{rank}.{examples.key}.png"
                rows.append({"source": example.source, "crop": crop, "score": example.score,
                             "box": list(example.box)})
                if not (atlas / crop).exists():
                    wanted.setdefault(example.source, []).append((atlas / crop, example.box))
            entries[(layer, unit)] = rows
    for source, crops in sorted(wanted.items()):
        photo = load_photo(folder / source, examples.side)
        if photo is None:  # changed since the pass: its dataset key no longer matches, skip quietly
            continue
        picture = Image.fromarray((photo[0].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8))
        for path, box in crops:
            path.parent.mkdir(parents=True, exist_ok=True)
            with atomic_path(path) as temporary:
                picture.crop(box).save(temporary, format="PNG")
    return entries
