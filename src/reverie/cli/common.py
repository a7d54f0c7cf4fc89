"""Small parsers shared by the commands: sizes, channel ranges, recipe loading."""
from __future__ import annotations

from pathlib import Path

from reverie.errors import ReverieError


def parse_size(text: str | None) -> tuple[int, int] | None:
    """``"640x480"`` -> (640, 480) as (width, height)."""
    if text is None:
        return None
    parts = text.lower().split("x")
    try:
        width, height = (int(part) for part in parts)
    except ValueError:
        raise ReverieError(f"size must be WIDTHxHEIGHT in pixels, e.g. 512x384; got '{text}'") from None
    if width <= 0 or height <= 0:
        raise ReverieError(f"size must be positive, got '{text}'")
    if width * height > 16384 * 16384:
        raise ReverieError(f"size {text} is larger than the 16384x16384 limit")
    return width, height


def parse_channels(text: str) -> tuple[int, ...]:
    """``"0-3,7,9-10"`` -> (0, 1, 2, 3, 7, 9, 10)."""
    channels: list[int] = []
    for part in text.split(","):
        low, dash, high = part.strip().partition("-")
        try:
            first = int(low)
            last = int(high) if dash else first
        except ValueError:
            raise ReverieError(f"channels must look like 0-15 or 3,7,9-12; got '{text}'") from None
        if first < 0 or last < first:
            raise ReverieError(f"bad channel range '{part.strip()}' in '{text}'")
        channels.extend(range(first, last + 1))
    if len(channels) > 4096:
        raise ReverieError(f"too many channels ({len(channels)}); the limit is 4096")
    return tuple(dict.fromkeys(channels))


def load_recipe(path: Path | None, kind: type):
    """The recipe in an image or JSON file, checked to be of ``kind``; or a default one."""
    if path is None:
        return kind()
    from reverie.io.images import read_recipe_text

    return kind.from_json(read_recipe_text(path))


def refuse_code_models(model_flag: str | None, recipe_model: str) -> None:
    """A recipe comes from a file a stranger may have sent: it never gets to import code."""
    from reverie.models import ModelSpec

    if model_flag is None and ModelSpec(recipe_model).runs_code():
        raise ReverieError(f"the recipe's model '{recipe_model}' could run code (an import or a pickled file); "
                           "pass --model explicitly to confirm you trust it")
