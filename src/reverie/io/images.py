"""Reading input images and writing outputs atomically, with the recipe embedded in the file."""
from __future__ import annotations

import hashlib
import os
import re
import tempfile
import warnings
from pathlib import Path

import torch
from PIL import Image, PngImagePlugin, UnidentifiedImageError

from reverie.engine.budget import IMAGE_BYTES, available_memory
from reverie.errors import ReverieError
from reverie.fields import escaped
from reverie.imaging import from_pil, to_pil
from reverie.io.atomic import atomic_path, probe_prefix, remove_orphans

RECIPE_KEY = "reverie:recipe"
# A CPPN visualization also stores its network (reverie.params.cppn's JSON text) in a PNG chunk of this
# name, so `reverie render` can draw it again at any size. Pillow refuses text chunks over 1 MB on read.
NETWORK_KEY = "reverie:cppn"
MAX_NETWORK_TEXT = 1_000_000  # under Pillow's limit on a text chunk it will read back (about 20 networks)
MAX_RECIPE_BYTES = 1 << 20  # as reverie.recipe's: far above any real recipe
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
    if not path.is_file():
        raise ReverieError(f"{what} is not a regular file (a device or FIFO): {path}")
    limit = max_picture_pixels()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # refused below, as an error
            with Image.open(path) as picture:  # reads the header only
                width, height = picture.size
                if width * height > limit:
                    raise ReverieError(_too_large(noun, path, f"{width}x{height} = {width * height / 1e6:.0f} Mpx",
                                                  limit))
                picture.load()
                return _readable(picture.copy(), noun, path)
    except Image.DecompressionBombError as error:  # Pillow's own guard, at twice MAX_IMAGE_PIXELS
        found = re.search(r"\((\d+) pixels\)", str(error))
        raise ReverieError(_too_large(noun, path, f"{int(found[1]) / 1e6:.0f} Mpx" if found else "too many pixels",
                                      limit)) from None
    except UnidentifiedImageError as error:
        raise ReverieError(f"cannot read {noun} {path}: not an image file PIL can decode ({type(error).__name__})") from None
    except (OSError, SyntaxError, ValueError, MemoryError) as error:
        detail = str(error).splitlines()[0][:120] if str(error) else type(error).__name__
        raise ReverieError(f"cannot read {noun} {path}: the file is corrupt or truncated ({detail})") from None


# Modes every reader here handles as they are (16-bit grey keeps its depth); any other mode (LAB,
# CMYK, float, ...) is converted to RGB once, here, so no reader meets a mode it cannot convert.
_READABLE_MODES = ("1", "L", "LA", "P", "PA", "RGB", "RGBA", "I;16", "I;16L", "I;16B", "I;16N", "I")


def _readable(picture: Image.Image, noun: str, path: Path) -> Image.Image:
    if picture.mode in _READABLE_MODES:
        return picture
    try:
        return picture.convert("RGBA" if "A" in picture.getbands() else "RGB")
    except (ValueError, OSError):
        raise ReverieError(f"cannot read {noun} {path}: its colour mode {picture.mode} has no RGB form; "
                           "save it as RGB") from None


def max_picture_pixels() -> int:
    """The most pixels an input may have: what a dream of it can hold in the memory free now, and never
    more than a dream's largest size (Pillow's own bomb guard stays at that size)."""
    return int(min(Image.MAX_IMAGE_PIXELS, available_memory() // IMAGE_BYTES))


def _too_large(noun: str, path: Path, size: str, limit: int) -> str:
    return (f"{noun} {path} is too large to dream here: {size}, and at most {limit / 1e6:.0f} Mpx fit in "
            "the memory free now; scale it down first")


def read_image(path: str | os.PathLike) -> torch.Tensor:
    """An image file -> [1, 3, H, W] floats in [0, 1]; a ReverieError says why a file is unusable."""
    return from_pil(open_picture(path))


def file_sha256(path: str | os.PathLike) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def check_output_path(path: str | os.PathLike) -> Path:
    """Validate an output image path before any long work: known format, a name the file system takes,
    and a folder that exists and takes files, or can be created (nothing is created now)."""
    path = Path(path)
    if path.suffix.lower() not in OUTPUT_FORMATS:
        raise ReverieError(
            f"unsupported output format '{path.suffix or path.name}' (valid: {', '.join(OUTPUT_FORMATS)})"
        )
    check_writable(path)
    return path


TEMPORARY_EXTRA = 40  # bytes a temporary name adds to a file's (".NAME.PID-RANDOM.tmp")


def check_writable(path: str | os.PathLike, what: str = "output") -> None:
    """``path`` can be written later: not a folder, a name short enough to write beside (with its
    temporary name), and its folder exists and takes files, or its nearest existing folder does.
    Creates nothing (a probe file is made and removed in the nearest existing folder)."""
    path = Path(path)
    if path.is_dir():
        raise ReverieError(f"{what} path is a folder: {path} (give a file name such as {path / 'dream.png'})")
    existing = path.parent
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise ReverieError(f"cannot create {what} folder {path.parent}: {existing} is a file")
    try:
        limit = os.pathconf(existing, "PC_NAME_MAX")
    except (OSError, ValueError, AttributeError):
        limit = 255
    for part in path.parts[len(existing.parts):]:  # every name still to create, the file's last
        size = len(os.fsencode(part)) + (TEMPORARY_EXTRA if part == path.name else 0)
        if size > limit:
            room = limit - (TEMPORARY_EXTRA if part == path.name else 0)
            raise ReverieError(f"{what} name too long: '{escaped(part, 40)}' is {len(os.fsencode(part))} bytes, "
                               f"and at most {room} fit here")
    try:
        with tempfile.NamedTemporaryFile(dir=existing, prefix=probe_prefix(), suffix=".probe"):
            pass
    except OSError as error:
        raise ReverieError(f"{what} folder is not writable: {existing} ({error.strerror or error})") from None


def save_image(path: str | os.PathLike, image: torch.Tensor | Image.Image, recipe_json: str | None = None,
               network: str | None = None) -> Path:
    """Write ``image`` (a PIL image, or the first of a [B, 3|4, H, W] batch) with its recipe, atomically.

    ``network``: a CPPN's stored network (text), kept in a PNG chunk (other formats do not keep it).

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
            if network is not None and len(network) <= MAX_NETWORK_TEXT:  # larger: could not be read back
                info.add_itxt(NETWORK_KEY, network, zip=True)
            options["pnginfo"] = info
        elif file_format == "JPEG":
            options["comment"] = f"{RECIPE_KEY}={recipe_json}".encode()
        else:  # WEBP carries XMP/EXIF only; keep the recipe in EXIF's image description
            exif = Image.Exif()
            exif[0x010E] = f"{RECIPE_KEY}={recipe_json}"
            options["exif"] = exif
    if file_format == "JPEG":
        options["quality"] = 95
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ReverieError(f"cannot create output folder {path.parent}: {error.strerror or error}") from None
    with atomic_path(path) as temporary:
        picture.save(temporary, format=file_format, **options)
    return path


def save_output(path: str | os.PathLike, image: torch.Tensor | Image.Image, recipe_json: str | None = None,
                network: str | None = None) -> Path:
    """:func:`save_image` for a task's one output: first removes what a killed run left while writing
    it (a frame task instead cleans its folder once: see ``remove_orphans``)."""
    remove_orphans(Path(path).parent, Path(path).name)
    return save_image(path, image, recipe_json, network)


def read_network_text(path: str | os.PathLike) -> str:
    """The CPPN network text an output PNG stores (see NETWORK_KEY); ReverieError when it has none."""
    path = Path(path)
    if not path.is_file():
        raise ReverieError(f"image not found: {path}")
    try:
        with Image.open(path) as picture:
            text = picture.info.get(NETWORK_KEY)
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, Image.DecompressionBombError) as error:
        raise ReverieError(f"cannot read {path}: not an image ({type(error).__name__})") from None
    if not isinstance(text, str):
        raise ReverieError(f"{path} carries no CPPN network: re-render needs a PNG written by "
                           "`reverie visualize --param cppn` (one objective, not a channel sheet; up to about 20 images)")
    return text


def read_recipe_text(path: str | os.PathLike) -> str:
    """The recipe JSON carried by an output image, or the text of a ``.json`` recipe file."""
    path = Path(path)
    if not path.exists():
        raise ReverieError(f"recipe file not found: {path}")
    if not path.is_file():
        raise ReverieError(f"recipe file is not a regular file (a folder, device or FIFO): {path}")
    if path.suffix.lower() == ".json":
        with open(path, "rb") as stream:
            data = stream.read(MAX_RECIPE_BYTES + 1)
        if len(data) > MAX_RECIPE_BYTES:
            raise ReverieError(f"recipe file {path} is over {MAX_RECIPE_BYTES} bytes; a recipe is far smaller")
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError as error:
            raise ReverieError(f"recipe file {path} is not UTF-8 text (byte {error.start})") from None
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
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, Image.DecompressionBombError) as error:
        # ValueError: Pillow's limit on text chunks (a zlib bomb in an iTXt), among others
        raise ReverieError(f"cannot read {path}: not an image or JSON recipe ({type(error).__name__}: "
                           f"{str(error).splitlines()[0][:80] if str(error) else 'unreadable'})") from None
    if text is None:
        raise ReverieError(f"{path} carries no Reverie recipe (was it made by Reverie, and not re-saved by another program?)")
    return text
