"""Numbered frame folders and animated GIFs, each file written atomically."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

import torch

from reverie.errors import ReverieError
from reverie.imaging import flatten_alpha, to_pil
from reverie.io.images import save_image


def write_frames(folder: str | os.PathLike, images: torch.Tensor, recipe_json: str | None = None,
                 prefix: str = "frame") -> list[Path]:
    """Write [N, C, H, W] as ``frame-0000.png`` ... (zero-padded so they sort), each with the recipe."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise ReverieError(f"output folder is a file: {folder}")
    digits = max(4, len(str(images.shape[0] - 1)))
    return [save_image(folder / f"{prefix}-{index:0{digits}d}.png", images[index:index + 1], recipe_json)
            for index in range(images.shape[0])]


def write_gif(path: str | os.PathLike, images: torch.Tensor, fps: float = 8.0, loop: int = 0) -> Path:
    """An animated GIF of [N, C, H, W] (``loop`` 0 = forever), written atomically."""
    import imageio.v3 as iio
    import numpy as np

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    frames = np.stack([np.asarray(to_pil(flatten_alpha(images[i:i + 1]))) for i in range(images.shape[0])])
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".gif")
    os.close(handle)
    try:
        iio.imwrite(temporary, frames, extension=".gif", duration=1000.0 / fps, loop=loop)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path
