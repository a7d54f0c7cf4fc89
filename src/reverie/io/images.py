"""Reading input images and writing outputs atomically, with the recipe embedded in the file."""
from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

import torch
from PIL import Image, PngImagePlugin, UnidentifiedImageError

from reverie.errors import ReverieError
from reverie.io.atomic import atomic_path
from reverie.imaging import from_pil, to_pil

RECIPE_KEY = "reverie:recipe"
OUTPUT_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WEBP"}
# Decompression-bomb guard: far above any real dream (16k x 16k), far below what would exhaust memory.
Image.MAX_IMAGE_PIXELS = 16384 * 16384


def open_picture(path: str | os.PathLike, what: str = "input image", noun: str = "image") -> Image.Image:
    """A fully decoded PIL image from ``path``; a ReverieError says why a file is unusable.

    ``what`` and ``noun`` name the file in messages: "input image not found: x.png",
    "cannot read image x.png: ..." (for a mask: "mask image", "mask").
    """
    path = Path(path)
    if not path.exists():
        raise ReverieError(f"{what} not found: {path}")
    if path.is_dir():
        raise ReverieError(f"{what} is a folder, not a file: {path}")
    try:
        with Image.open(path) as picture:
            picture.load()
            return picture.copy()
    except (UnidentifiedImageError, Image.DecompressionBombError) as error:
        raise ReverieError(f"cannot read {noun} {path}: not an image file PIL can decode ({type(error).__name__})") from None
    except (OSError, SyntaxError, ValueError) as error:
        raise ReverieError(f"cannot read {noun} {path}: the file is corrupt or truncated ({error})") from None


def read_image(path: str | os.PathLike) -> torch.Tensor:
    """An image file -> [1, 3, H, W] floats in [0, 1]; a ReverieError says why a file is unusable."""
    return from_pil(open_picture(path))


def file_sha256(path: str | os.PathLike) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def check_output_path(path: str | os.PathLike) -> Path:
    """Validate an output image path before any long work: known format, folder created and writable."""
    path = Path(path)
    if path.suffix.lower() not in OUTPUT_FORMATS:
        raise ReverieError(
            f"unsupported output format '{path.suffix or path.name}' (valid: {', '.join(OUTPUT_FORMATS)})"
        )
    if path.is_dir():
        raise ReverieError(f"output path is a folder: {path} (give a file name such as {path / 'dream.png'})")
    folder = path.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ReverieError(f"cannot create output folder {folder}: {error.strerror or error}") from None
    try:
        with tempfile.NamedTemporaryFile(dir=folder, prefix=f".{path.name}.", suffix=".probe"):
            pass
    except OSError as error:
        raise ReverieError(f"output folder is not writable: {folder} ({error.strerror or error})") from None
    return path


def save_image(path: str | os.PathLike, image: torch.Tensor | Image.Image, recipe_json: str | None = None) -> Path:
    """Write ``image`` (a PIL image, or the first of a [B, 3|4, H, W] batch) with its recipe, atomically.

    The file appears complete or not at all: it is written under a temporary name in the same
    folder and renamed over the target.
    """
    path = check_output_path(path)
    picture = image if isinstance(image, Image.Image) else to_pil(image)
    file_format = OUTPUT_FORMATS[path.suffix.lower()]
    if picture.mode == "RGBA" and file_format == "JPEG":
        raise ReverieError(f"JPEG cannot hold the alpha channel; write {path.with_suffix('.png')} instead")
    options: dict = {}
    if recipe_json is not None:
        if file_format == "PNG":
            info = PngImagePlugin.PngInfo()
            info.add_itxt(RECIPE_KEY, recipe_json)
            options["pnginfo"] = info
        elif file_format == "JPEG":
            options["comment"] = f"{RECIPE_KEY}={recipe_json}".encode()
        else:  # WEBP carries XMP/EXIF only; keep the recipe in EXIF's image description
            exif = Image.Exif()
            exif[0x010E] = f"{RECIPE_KEY}={recipe_json}"
            options["exif"] = exif
    if file_format == "JPEG":
        options["quality"] = 95
    with atomic_path(path) as temporary:
        picture.save(temporary, format=file_format, **options)
    return path


def read_recipe_text(path: str | os.PathLike) -> str:
    """The recipe JSON carried by an output image, or the text of a ``.json`` recipe file."""
    path = Path(path)
    if not path.exists():
        raise ReverieError(f"recipe file not found: {path}")
    if path.suffix.lower() == ".json":
        return path.read_text(encoding="utf-8")
    try:
        with Image.open(path) as picture:
            text = picture.info.get(RECIPE_KEY)
            if text is None:
                comment = picture.info.get("comment", b"")
                comment = comment.decode("utf-8", "replace") if isinstance(comment, bytes) else str(comment)
                description = str(picture.getexif().get(0x010E, ""))
                for candidate in (comment, description):
                    if candidate.startswith(RECIPE_KEY + "="):
                        text = candidate[len(RECIPE_KEY) + 1:]
    except (UnidentifiedImageError, OSError) as error:
        raise ReverieError(f"cannot read {path}: not an image or JSON recipe ({type(error).__name__})") from None
    if text is None:
        raise ReverieError(f"{path} carries no Reverie recipe (was it made by Reverie, and not re-saved by another program?)")
    return text
