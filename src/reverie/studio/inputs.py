"""The files a task reads, as the page offers them: a bundled sample or an upload, a painted mask, a
video, a mesh. Each becomes the plain name a recipe carries (see :class:`StudioFolder`) and back.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image

from reverie.errors import ReverieError
from reverie.imaging import SAMPLES
from reverie.io.meshes import write_obj
from reverie.mesh.shapes import torus
from reverie.studio.folder import StudioFolder

UPLOAD = "my file"          # the choice that means "the file uploaded beside this list"
NOISE = "noise"
NONE = "none"
SAMPLE_MESH = "torus"


@dataclass(frozen=True)
class FileInput:
    """A recipe field that names a file, and how the page offers it."""

    field: str
    kind: str                     # image, mask, video, mesh
    label: str
    choices: tuple[str, ...] = ()  # what can be picked instead of an upload
    default: str = UPLOAD

    def picks(self) -> list[str]:
        return [*self.choices, UPLOAD]


_START = ("chelsea", "coffee", "astronaut", "rocket", NOISE)
PAGE_FILES: dict[str, list[FileInput]] = {
    "dream": [FileInput("source", "image", "start from", _START, "chelsea"),
              FileInput("mask", "mask", "paint where to dream (leave empty: everywhere)"),
              FileInput("guide", "image", "guide image: dream toward its features (optional)", (NONE, *SAMPLES), NONE)],
    "caricature": [FileInput("source", "image", "photo", SAMPLES, "chelsea")],
    "animate": [FileInput("source", "image", "start from", _START, "chelsea")],
    "video": [FileInput("source", "video", "video")],
    "style": [FileInput("content", "image", "content", SAMPLES, "chelsea"),
              FileInput("style", "image", "style", SAMPLES, "coffee")],
    "texture": [FileInput("mesh", "mesh", "mesh", (SAMPLE_MESH,), SAMPLE_MESH),
                FileInput("style", "image", "style image (optional)", (NONE, *SAMPLES), NONE)],
}


def sample_mesh(folder: StudioFolder) -> str:
    """The bundled torus, written into the studio's inputs once; its name for recipes."""
    path = folder.inputs / "torus.obj"
    if not path.exists():
        write_obj(torus(), path)
    return path.name


def painted_mask(value: Any) -> np.ndarray | None:
    """The union of an ImageEditor's painted layers as [H, W, 4] RGBA (None when nothing is painted)."""
    if not isinstance(value, dict):
        return None
    layers = [np.asarray(layer) for layer in value.get("layers") or [] if layer is not None]
    if not layers:
        return None
    union = layers[0].copy()
    for layer in layers[1:]:
        if layer.shape == union.shape:
            union = np.maximum(union, layer)
    return union


def recipe_value(item: FileInput, pick: str | None, upload: Any, folder: StudioFolder) -> str | None:
    """What the recipe's ``item.field`` says for the page's ``pick`` and ``upload``."""
    if item.kind == "mask":
        painted = painted_mask(upload)
        return None if painted is None else folder.keep_mask(painted)
    if pick == NONE:
        return None
    if pick == NOISE:
        return "noise"
    if pick == SAMPLE_MESH and item.kind == "mesh":
        return sample_mesh(folder)
    if pick in SAMPLES:
        return f"sample:{pick}"
    if not upload:
        raise ReverieError(f"no {item.label} file: upload one{' or pick a sample' if item.choices else ''}")
    path = upload if isinstance(upload, str) else getattr(upload, "name", None) or str(upload)
    if item.kind == "video":
        return folder.keep_video(path)
    if item.kind == "mesh":
        return folder.keep_mesh(path)
    return folder.keep_image(path, item.label)


def page_value(item: FileInput, name: str | None, folder: StudioFolder, source_path: str | None = None
               ) -> tuple[str | None, Any]:
    """The page's (pick, upload) for a recipe's value: what a dropped recipe restores. A stored file
    must be in the studio's inputs (a ReverieError says to upload it otherwise)."""
    if item.kind == "mask":
        if name is None:
            return None, None
        mask = np.asarray(Image.open(folder.input_path(name, "mask")).convert("L"))
        layer = np.zeros((*mask.shape, 4), dtype=np.uint8)
        layer[mask > 127] = (255, 255, 255, 255)
        return None, {"background": source_path, "layers": [layer], "composite": None}
    if name is None:
        return NONE, None
    if name == "noise":
        return NOISE, None
    if name.startswith("sample:"):
        return name.removeprefix("sample:"), None
    if item.kind == "mesh" and name == "torus.obj":
        return SAMPLE_MESH, None
    return UPLOAD, str(folder.input_path(name, item.field))
