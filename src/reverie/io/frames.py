"""Numbered frame folders and animated GIFs, each file written atomically; frames stream from disk."""
from __future__ import annotations

import io
import os
import re
import struct
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import torch
from PIL import Image

from reverie.errors import ReverieError
from reverie.imaging import flatten_alpha, to_pil
from reverie.io.atomic import atomic_path, remove_orphans
from reverie.io.images import read_image, save_image

FRAME_DIGITS = 5  # frame-00000.png ... frame-99999.png: names sort in frame order
_FRAME_NAME = re.compile(r"^frame-(\d+)\.png$")
MAX_GIF_FPS = 50  # GIF delays are whole hundredths of a second; browsers slow delays under 2 to 10
MIN_GIF_DELAY, MAX_GIF_DELAY = 2, 65535  # hundredths of a second; the delay field is 16 bits


def write_frames(folder: str | os.PathLike, images: torch.Tensor, recipe_json: str | None = None,
                 prefix: str = "frame") -> list[Path]:
    """Write [N, C, H, W] as ``frame-0000.png`` ... (zero-padded so they sort), each with the recipe."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise ReverieError(f"output folder is a file: {folder}")
    digits = max(4, len(str(images.shape[0] - 1)))
    return [save_image(folder / f"{prefix}-{index:0{digits}d}.png", images[index:index + 1], recipe_json)
            for index in range(images.shape[0])]


def frame_path(folder: str | os.PathLike, frame_index: int) -> Path:
    """Where an animation keeps frame ``frame_index``: ``folder/frame-00042.png``."""
    return Path(folder) / f"frame-{frame_index:0{FRAME_DIGITS}d}.png"


def finished_frames(folder: str | os.PathLike) -> int:
    """How many frames of an animation are finished: frame files 0, 1, 2 ... without a gap."""
    count = 0
    while frame_path(folder, count).is_file():
        count += 1
    return count


class FrameFolder(Sequence):
    """The numbered frames (``frame-NNNN.png``) in a folder, in frame order, each read when indexed.

    Indexing gives a [1, 3, H, W] tensor in [0, 1]; nothing is held in memory, so a long animation
    can be encoded (or reversed) frame by frame.
    """

    def __init__(self, folder: str | os.PathLike):
        folder = Path(folder)
        if not folder.is_dir():
            raise ReverieError(f"frame folder not found: {folder}")
        numbered = [(int(match[1]), path) for path in folder.iterdir() if (match := _FRAME_NAME.match(path.name))]
        if not numbered:
            raise ReverieError(f"no frames (frame-00000.png ...) in {folder}")
        self.folder = folder
        self.paths = [path for _, path in sorted(numbered)]

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> torch.Tensor:
        if isinstance(index, slice):
            raise TypeError("FrameFolder takes one frame index, not a slice")
        return read_image(self.paths[index])


def frame_order(count: int, reverse: bool = False, pingpong: bool = False) -> list[int]:
    """Indices in playing order: forward (or ``reverse``), and with ``pingpong`` back again without
    repeating the turning frames, so a looping ping-pong of N frames has 2N - 2.

    >>> frame_order(4), frame_order(4, reverse=True), frame_order(4, pingpong=True)
    ([0, 1, 2, 3], [3, 2, 1, 0], [0, 1, 2, 3, 2, 1])
    """
    order = list(range(count))[::-1] if reverse else list(range(count))
    return order + order[-2:0:-1] if pingpong else order


def ordered_frames(frames: Iterable, reverse: bool = False, pingpong: bool = False) -> Iterator:
    """``frames`` in playing order (see :func:`frame_order`), read lazily from a Sequence such as a
    :class:`FrameFolder` or an [N, C, H, W] tensor; other iterables are read into a list only when
    ``reverse`` or ``pingpong`` needs them twice."""
    if torch.is_tensor(frames):
        frames = _Batch(frames)
    if not reverse and not pingpong:
        yield from frames
        return
    if not isinstance(frames, Sequence):
        frames = list(frames)
    for index in frame_order(len(frames), reverse, pingpong):
        yield frames[index]


class _Batch(Sequence):
    """An [N, C, H, W] tensor as a sequence of [1, C, H, W] frames."""

    def __init__(self, images: torch.Tensor):
        if images.ndim != 4:
            raise ReverieError(f"expected frames as [N, C, H, W], got {list(images.shape)}")
        self.images = images

    def __len__(self) -> int:
        return self.images.shape[0]

    def __getitem__(self, index: int) -> torch.Tensor:
        # Sequence's iteration stops at IndexError; a slice past the end would be empty, not an error.
        if not -len(self) <= index < len(self):
            raise IndexError(f"frame {index} is out of range for {len(self)} frames")
        index %= len(self)
        return self.images[index:index + 1]


def frame_picture(frame: torch.Tensor | Image.Image) -> Image.Image:
    """A frame ([1, 3|4, H, W] or [3|4, H, W] tensor in [0, 1], or a PIL image) as 8-bit RGB PIL."""
    if isinstance(frame, Image.Image):
        return frame.convert("RGB")
    if torch.is_tensor(frame) and frame.ndim == 3:
        frame = frame.unsqueeze(0)  # [C, H, W] -> [1, C, H, W]
    if not (torch.is_tensor(frame) and frame.ndim == 4 and frame.shape[1] in (3, 4)):
        shape = list(frame.shape) if torch.is_tensor(frame) else type(frame).__name__
        raise ReverieError(f"expected a frame as [1, 3, H, W] floats in [0, 1], got {shape}")
    return to_pil(flatten_alpha(frame))


def write_gif(path: str | os.PathLike, frames: Iterable, fps: float = 8.0, loop: int = 0,
              reverse: bool = False, pingpong: bool = False, delay: int | None = None) -> Path:
    """An animated GIF of ``frames``, streamed one frame at a time and written atomically.

    ``frames``: an [N, C, H, W] tensor, a :class:`FrameFolder`, or any iterable of [1, 3, H, W]
    tensors or PIL images (all one size). ``fps``: at most 50; GIF delays are whole hundredths of a
    second, so 12 fps is stored as 8/100 s (12.5 fps). ``loop``: how many times it plays, 0 = for
    ever, 1 = once (the file stores the repeat count, ``loop - 1``, as browsers read it).
    ``reverse`` plays the frames backwards; ``pingpong`` plays forward then back (2N - 2 frames).
    ``delay``: each frame's delay in hundredths of a second (ImageMagick's ``convert -delay 7``),
    from 2 to 65535; it replaces ``fps``. Each frame gets its own 256-colour palette (octree,
    Floyd-Steinberg dithered).
    """
    if delay is not None:
        fps = 100 / check_delay(delay)
    if not 0 < fps <= MAX_GIF_FPS:
        raise ReverieError(f"GIF fps must be above 0 and at most {MAX_GIF_FPS} (GIF delays are hundredths of "
                           f"a second and browsers slow faster ones down); got {fps:g}; use an MP4 for more")
    if isinstance(loop, bool) or not isinstance(loop, int) or not 0 <= loop <= 65536:
        raise ReverieError(f"GIF loop must be 0 (for ever) or the number of plays up to 65536, got {loop!r}")
    delay = max(MIN_GIF_DELAY, round(100 / fps)) if delay is None else delay  # hundredths of a second
    path = Path(path)

    def write(stream) -> None:
        size = None
        for frame in ordered_frames(frames, reverse, pingpong):
            picture = frame_picture(frame)
            if size is None:
                size = picture.size
                stream.write(b"GIF89a" + struct.pack("<HHBBB", *size, 0x70, 0, 0))  # no global palette
                if loop != 1:  # the NETSCAPE block asks for repeats; without it a GIF plays once
                    stream.write(b"!\xff\x0bNETSCAPE2.0\x03\x01" + struct.pack("<H", loop - 1 if loop else 0) + b"\x00")
            elif picture.size != size:
                raise ReverieError(f"GIF frames must all be one size: {size[0]}x{size[1]}, then "
                                   f"{picture.size[0]}x{picture.size[1]}")
            stream.write(_gif_frame(picture, delay))
        if size is None:
            raise ReverieError("no frames to write to the GIF")
        stream.write(b";")

    return _write_atomically(path, write)


def check_delay(delay: object) -> int:
    """A GIF frame delay: whole hundredths of a second from :data:`MIN_GIF_DELAY` to 65535 (the field's width)."""
    if isinstance(delay, bool) or not isinstance(delay, int) or not MIN_GIF_DELAY <= delay <= MAX_GIF_DELAY:
        raise ReverieError(f"GIF delay must be a whole number of hundredths of a second from {MIN_GIF_DELAY} to "
                           f"{MAX_GIF_DELAY} (browsers slow shorter delays down), got {delay!r}")
    return delay


def _gif_frame(picture: Image.Image, delay: int) -> bytes:
    """One RGB picture as a GIF frame block: graphic control (delay) + image with its own palette.

    Pillow encodes the frame as a one-frame GIF; its palette becomes the frame's local palette. This
    is what lets a long animation stream to disk instead of being held in memory to be saved at once.
    """
    # Octree palette, then a Floyd-Steinberg remap onto it: on dream frames this has the lowest colour
    # error at a 4x4-pixel scale of Pillow's quantizers (median cut without dithering mutes the
    # saturated colours), and it takes milliseconds where median cut takes a tenth of a second.
    palette = picture.quantize(256, method=Image.Quantize.FASTOCTREE)
    buffer = io.BytesIO()
    picture.quantize(palette=palette, dither=Image.Dither.FLOYDSTEINBERG).save(buffer, format="GIF")
    data = buffer.getvalue()
    packed = data[10]
    position = 13
    palette = b""
    if packed & 0x80:  # global colour table
        length = 3 << ((packed & 7) + 1)
        palette, position = data[position:position + length], position + length
    while data[position] == 0x21:  # extensions: skip label, then the data sub-blocks
        position += 2
        while data[position]:
            position += data[position] + 1
        position += 1
    if data[position] != 0x2C:
        raise RuntimeError("unexpected GIF layout from Pillow")  # a bug, not a user mistake
    left, top, width, height, image_packed = struct.unpack("<HHHHB", data[position + 1:position + 10])
    position += 10
    if image_packed & 0x80:  # a local colour table replaces the global one
        length = 3 << ((image_packed & 7) + 1)
        palette, position = data[position:position + length], position + length
    start = position
    position += 1  # LZW minimum code size, then data sub-blocks up to a zero-length one
    while data[position]:
        position += data[position] + 1
    pixels = data[start:position + 1]
    table_bits = (len(palette) // 3).bit_length() - 2  # a table of 2**(n + 1) colours stores n
    control = b"!\xf9\x04" + bytes([1 << 2]) + struct.pack("<H", delay) + b"\x00\x00"  # disposal 1: keep
    descriptor = b"," + struct.pack("<HHHHB", left, top, width, height, 0x80 | (image_packed & 0x40) | table_bits)
    return control + descriptor + palette + pixels


def _write_atomically(path: Path, write) -> Path:
    """Call ``write(stream)`` on a temporary file beside ``path`` and rename it over ``path`` when done."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ReverieError(f"cannot create output folder {path.parent}: {error.strerror or error}") from None
    if path.is_dir():
        raise ReverieError(f"output path is a folder: {path}")
    remove_orphans(path.parent, path.name)
    with atomic_path(path) as temporary, open(temporary, "wb") as stream:
        write(stream)
    return path


def write_text_atomically(path: str | os.PathLike, text: str) -> Path:
    """A text file (UTF-8) that appears complete or not at all."""
    return _write_atomically(Path(path), lambda stream: stream.write(text.encode("utf-8")))
