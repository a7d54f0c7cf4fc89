"""How a result shows itself in a notebook: its picture (or an inline player for frames), a caption and
its recipe folded away, as one self-contained piece of HTML (images inline as data URIs, no scripts)."""
from __future__ import annotations

import base64
import html
import io
import json
import os
from collections.abc import Sequence
from pathlib import Path

from PIL import Image, features

from reverie.io.frames import frame_picture

PLAYER_FRAMES = 120     # an inline player shows at most this many frames (evenly spaced) ...
PLAYER_SIDE = 384       # ... at most this many pixels on a side: a notebook stays a few MB at most
EMBEDDED_VIDEO = 20 * 2**20  # an encoded video up to this size is embedded as it is; larger, the frames are


def png_bytes(picture: Image.Image) -> bytes:
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    return buffer.getvalue()


def data_uri(mime: str, data: bytes) -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def image_html(picture: Image.Image, alt: str) -> str:
    return (f'<img src="{data_uri("image/png", png_bytes(picture))}" alt="{html.escape(alt)}" '
            f'width="{picture.width}" height="{picture.height}" style="image-rendering:auto;max-width:100%">')


def recipe_html(recipe_json: str) -> str:
    """The recipe, pretty-printed and folded (a click opens it)."""
    pretty = json.dumps(json.loads(recipe_json), indent=2, sort_keys=True)
    return f"<details><summary>recipe</summary><pre style='font-size:85%'>{html.escape(pretty)}</pre></details>"


def figure_html(media: str, caption: str, recipe_json: str) -> str:
    return (f"<figure style='margin:0'>{media}<figcaption style='font-family:monospace;font-size:90%'>"
            f"{html.escape(caption)}</figcaption>{recipe_html(recipe_json)}</figure>")


def shrunk(picture: Image.Image, side: int) -> Image.Image:
    """``picture`` scaled down (never up) so that its longer side is at most ``side``."""
    scale = side / max(picture.size)
    if scale >= 1:
        return picture
    return picture.resize((max(1, round(picture.width * scale)), max(1, round(picture.height * scale))),
                          Image.Resampling.LANCZOS)


def spaced(count: int, most: int) -> list[int]:
    """At most ``most`` indices into ``count`` items, evenly spaced, first and last included.

    >>> spaced(5, 10), spaced(10, 4)
    ([0, 1, 2, 3, 4], [0, 3, 6, 9])
    """
    if count <= most:
        return list(range(count))
    return sorted({round(i * (count - 1) / (most - 1)) for i in range(most)})


def animation(frames: Sequence, fps: float) -> tuple[str, bytes]:
    """(MIME type, bytes) of a looping animated WebP of ``frames`` (tensors [1, C, H, W] or PIL images),
    spaced down to :data:`PLAYER_FRAMES` at :data:`PLAYER_SIDE` px: what every current browser plays
    inline. A GIF where Pillow was built without WebP."""
    chosen = spaced(len(frames), PLAYER_FRAMES)
    # fewer frames than were made: each one stays up longer, so the clip lasts as long as the original
    milliseconds = max(20, round(1000 / fps * len(frames) / len(chosen)))
    pictures = [shrunk(frame_picture(frames[index]), PLAYER_SIDE) for index in chosen]
    kind = "WEBP" if features.check("webp") else "GIF"
    buffer = io.BytesIO()
    pictures[0].save(buffer, format=kind, save_all=True, append_images=pictures[1:], duration=milliseconds,
                     loop=0, **({"quality": 85} if kind == "WEBP" else {}))
    return f"image/{kind.lower()}", buffer.getvalue()


def player_html(frames: Sequence, fps: float, video: Path | None = None) -> str:
    """An inline player: the encoded MP4 when there is one of reasonable size, else an animated image."""
    if video is not None and video.is_file() and os.path.getsize(video) <= EMBEDDED_VIDEO:
        return (f'<video controls autoplay loop muted playsinline style="max-width:100%" '
                f'src="{data_uri("video/mp4", video.read_bytes())}"></video>')
    return f'<img src="{data_uri(*animation(frames, fps))}" alt="animation" style="max-width:100%">'
