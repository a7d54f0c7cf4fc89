"""Image tensors: conversion to and from PIL and numpy, resizing, and the bundled sample photos."""
from __future__ import annotations

import importlib.util
import math
import os
from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from reverie.errors import ReverieError, unknown_name_message

# Photos that ship with scikit-image, so a dream needs no download.
SAMPLES = ("chelsea", "coffee", "astronaut", "rocket")
# Modes PIL opens 16-bit greyscale files in ("I" for 16-bit PNGs in older Pillow).
_SIXTEEN_BIT_GREY = ("I;16", "I;16L", "I;16B", "I;16N", "I")


def check_image(image: torch.Tensor, name: str = "image") -> None:
    """Raise unless ``image`` is a float tensor [B, 3, H, W]."""
    if not (torch.is_tensor(image) and image.ndim == 4 and image.shape[1] == 3 and image.is_floating_point()):
        shape = list(image.shape) if torch.is_tensor(image) else type(image).__name__
        raise ReverieError(f"expected {name} as floats [B, 3, H, W] in [0, 1], got {shape}")


def from_pil(picture: Image.Image) -> torch.Tensor:
    """PIL image (any mode) -> float tensor [1, 3, H, W] in [0, 1]."""
    if picture.mode in _SIXTEEN_BIT_GREY:
        # convert("RGB") would clip 16-bit values at 255 and wash the picture out to white.
        grey = np.asarray(picture, dtype=np.float32).clip(0, 65535) / 65535.0  # [H, W]
        array = np.repeat(grey[:, :, None], 3, axis=2)
    else:
        array = np.asarray(picture.convert("RGB"), dtype=np.float32) / 255.0  # [H, W, 3]
    return torch.from_numpy(array).permute(2, 0, 1).unsqueeze(0).contiguous()


def to_pil(image: torch.Tensor) -> Image.Image:
    """First image of a [B, 3 or 4, H, W] tensor in [0, 1] -> 8-bit RGB (or RGBA) PIL image."""
    array = image[0].detach().clamp(0, 1).permute(1, 2, 0).mul(255).round().to(torch.uint8).cpu().numpy()
    return Image.fromarray(array, "RGBA" if array.shape[-1] == 4 else "RGB")


def sample(name: str) -> torch.Tensor:
    """A bundled sample photo (``chelsea`` the cat, ``coffee``, ``astronaut``...) as [1, 3, H, W]."""
    if name not in SAMPLES:
        raise ReverieError(unknown_name_message("sample", name, SAMPLES))
    # The photo is a file inside scikit-image; opened with PIL directly (the same pixels), importing
    # scikit-image's reader (0.7 s: scipy and its colour module) is paid only where the file is not there.
    path = _bundled_sample(name)
    if path is not None:
        with Image.open(path) as picture:
            if picture.mode == "RGB":
                return from_pil(picture)
    from skimage import data

    return from_pil(Image.fromarray(getattr(data, name)()))


def _bundled_sample(name: str) -> str | None:
    spec = importlib.util.find_spec("skimage")
    for folder in (spec.submodule_search_locations or []) if spec is not None else []:
        for suffix in (".png", ".jpg"):
            path = os.path.join(folder, "data", name + suffix)
            if os.path.isfile(path):
                return path
    return None


class Size(NamedTuple):
    """An image size as people write it (``640x480``): width first. Recipes and flags store sizes so.

    Its ``shape`` is (height, width), the order of a tensor's last two dimensions and of every
    function here that takes a ``shape``. The two words never swap: a ``size`` is (width, height),
    a ``shape`` is (height, width).

    >>> Size(640, 480).shape
    (480, 640)
    >>> Size.of(torch.zeros(1, 3, 48, 64))
    Size(width=64, height=48)
    """

    width: int
    height: int

    @property
    def shape(self) -> tuple[int, int]:
        return self.height, self.width

    @classmethod
    def of(cls, image: torch.Tensor) -> Size:
        """The size of an image [..., H, W]."""
        return cls(int(image.shape[-1]), int(image.shape[-2]))


def resize(image: torch.Tensor, shape: tuple[int, int]) -> torch.Tensor:
    """Resize [B, C, H, W] to ``shape`` = (height, width); antialiased when shrinking."""
    if tuple(image.shape[-2:]) == tuple(shape):
        return image
    shrinking = shape[0] < image.shape[-2] or shape[1] < image.shape[-1]
    return F.interpolate(image, size=tuple(shape), mode="bilinear", align_corners=False, antialias=shrinking)


def noise(shape: tuple[int, int], generator: torch.Generator, amplitude: float = 0.1) -> torch.Tensor:
    """Grey with faint uniform noise, [1, 3, H, W] for ``shape`` = (H, W): the classic start of a pure dream."""
    return 0.5 + amplitude * (torch.rand(1, 3, *shape, generator=generator) - 0.5)


def grid(images: torch.Tensor, columns: int | None = None, labels: list[str] | None = None,
         gap: int = 4) -> Image.Image:
    """Lay a batch [B, 3, H, W] out as a contact sheet (PIL), optionally labelling each cell."""
    from PIL import ImageDraw

    count, _, height, width = images.shape
    columns = columns or math.ceil(math.sqrt(count))
    rows = math.ceil(count / columns)
    sheet = Image.new("RGB", (columns * (width + gap) - gap, rows * (height + gap) - gap), "white")
    draw = ImageDraw.Draw(sheet)
    for index in range(count):
        left, top = (index % columns) * (width + gap), (index // columns) * (height + gap)
        sheet.paste(to_pil(images[index:index + 1]), (left, top))
        if labels:
            draw.rectangle((left, top, left + 7 * len(labels[index]) + 6, top + 14), fill="black")
            draw.text((left + 3, top + 1), labels[index], fill="white")
    return sheet


def flatten_alpha(image: torch.Tensor, background: float = 1.0) -> torch.Tensor:
    """[B, 4, H, W] RGBA -> [B, 3, H, W] over a flat background (for previews and sheets)."""
    if image.shape[1] != 4:
        return image
    rgb, alpha = image[:, :3], image[:, 3:]
    return rgb * alpha + background * (1 - alpha)
