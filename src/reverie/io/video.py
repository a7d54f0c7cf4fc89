"""MP4 (H.264) writing and video reading through the ffmpeg binary that imageio-ffmpeg bundles.

No other program is needed: ``imageio_ffmpeg.get_ffmpeg_exe()`` is the ffmpeg that ships with the
pip package. Frames stream through a pipe one at a time, so memory does not grow with length.
"""
from __future__ import annotations

import math
import os
import re
import subprocess
import tempfile
from collections.abc import Iterable, Iterator
from fractions import Fraction
from pathlib import Path

import numpy as np
import torch

from reverie.errors import ReverieError
from reverie.io.atomic import atomic_path
from reverie.io.frames import frame_picture

# x264's constant rate factor: 0 is lossless, 51 the worst; around 18 most people see no loss.
DEFAULT_QUALITY = 18


def ffmpeg_exe() -> str:
    """The ffmpeg binary bundled with imageio-ffmpeg."""
    try:
        import imageio_ffmpeg
    except ImportError:
        raise ReverieError("writing or reading video needs imageio-ffmpeg: pip install imageio-ffmpeg") from None
    return imageio_ffmpeg.get_ffmpeg_exe()


def _quiet_child() -> dict:
    """Popen arguments that keep Ctrl-C from reaching ffmpeg: Python stops it, after cleaning up."""
    if os.name == "posix":
        return {"start_new_session": True}
    return {"creationflags": subprocess.CREATE_NEW_PROCESS_GROUP}


def _run_ffmpeg(arguments: list[str], what: str) -> str:
    """Run ffmpeg to completion; its log on success, or a ReverieError with its last message line."""
    result = subprocess.run([ffmpeg_exe(), "-hide_banner", "-nostdin", *arguments], stdin=subprocess.DEVNULL,
                            capture_output=True, text=True, errors="replace", **_quiet_child())
    if result.returncode != 0:
        raise ReverieError(f"{what} failed: {_last_line(result.stderr)}")
    return result.stderr


def _last_line(log: str) -> str:
    lines = [line.strip() for line in log.splitlines() if line.strip()]
    return lines[-1] if lines else "ffmpeg gave no message"


def write_mp4(path: str | os.PathLike, frames: Iterable, fps: float = 12.0, quality: int = DEFAULT_QUALITY,
              audio_from: str | os.PathLike | None = None, recipe_json: str | None = None) -> Path:
    """An H.264 MP4 (yuv420p, plays everywhere) of ``frames``, streamed and written atomically.

    ``frames``: any iterable of [1, 3, H, W] tensors in [0, 1] (or PIL images), all one size, e.g.
    a :class:`reverie.io.frames.FrameFolder` or :func:`reverie.io.frames.ordered_frames`. An odd
    width or height is made even by repeating the last column or row (yuv420p needs even sides).
    ``quality``: x264's CRF, 0 (lossless) to 51 (worst); 18 by default. ``audio_from``: a video
    whose audio track (if it has one) is copied in; audio past the last frame is cut, and every
    frame is kept however short the audio is. ``recipe_json``: stored in the file's ``comment`` tag
    (``reverie:recipe=...``), as images carry theirs; :func:`read_mp4_recipe` reads it back.
    """
    if isinstance(quality, bool) or not isinstance(quality, int) or not 0 <= quality <= 51:
        raise ReverieError(f"MP4 quality (x264 CRF) must be a whole number from 0 (lossless) to 51, got {quality!r}")
    if not 0 < fps <= 1000:
        raise ReverieError(f"fps must be above 0 and at most 1000, got {fps:g}")
    if audio_from is not None and not Path(audio_from).is_file():
        raise ReverieError(f"video to take the audio from not found: {audio_from}")
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ReverieError(f"cannot create output folder {path.parent}: {error.strerror or error}") from None
    if path.is_dir():
        raise ReverieError(f"output path is a folder: {path}")
    with atomic_path(path, suffix=".mp4") as temporary:
        rate = Fraction(fps).limit_denominator(100_000)
        count = _encode(str(temporary), iter(frames), rate, quality, recipe_json)
        codec = audio_codec(audio_from) if audio_from is not None else None
        if codec is not None:
            with atomic_path(temporary, suffix=".mp4") as muxed:  # renamed over the silent video
                _add_audio(str(temporary), Path(audio_from), str(muxed), codec, count / rate)
    return path


def _encode(target: str, frames: Iterator, fps: Fraction, quality: int, recipe_json: str | None = None) -> int:
    """Pipe raw RGB frames into ffmpeg's libx264; returns how many frames were written."""
    first = next(frames, None)
    if first is None:
        raise ReverieError("no frames to write to the MP4")
    first = np.asarray(frame_picture(first))
    height, width = first.shape[:2]
    even_height, even_width = height + height % 2, width + width % 2
    command = [
        ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y",
        "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{even_width}x{even_height}", "-r", str(fps), "-i", "-",
        "-an", "-c:v", "libx264", "-preset", "medium", "-crf", str(quality), "-pix_fmt", "yuv420p",
        "-movflags", "+faststart",
        *(["-metadata", f"comment={RECIPE_TAG}={recipe_json}"] if recipe_json is not None else []),
        "-f", "mp4", target,
    ]
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=log,
                                   **_quiet_child())
        try:
            array, count = first, 0
            while array is not None:
                if array.shape[:2] != (height, width):
                    raise ReverieError(f"MP4 frames must all be one size: {width}x{height}, then "
                                       f"{array.shape[1]}x{array.shape[0]}")
                if (even_height, even_width) != (height, width):
                    # [H, W, 3] -> [H + H%2, W + W%2, 3], repeating the edge rather than adding a black line
                    array = np.pad(array, ((0, even_height - height), (0, even_width - width), (0, 0)), mode="edge")
                process.stdin.write(np.ascontiguousarray(array, dtype=np.uint8).tobytes())
                count += 1
                following = next(frames, None)
                array = None if following is None else np.asarray(frame_picture(following))
            process.stdin.close()
        except BrokenPipeError:
            pass  # ffmpeg stopped early; its log says why, below
        except BaseException:
            process.kill()
            process.wait()
            raise
        code = process.wait()
        if code != 0:
            log.seek(0)
            raise ReverieError(f"ffmpeg could not write the MP4: {_last_line(log.read().decode(errors='replace'))}")
    return count


RECIPE_TAG = "reverie:recipe"  # the same key images use


def read_mp4_recipe(path: str | os.PathLike) -> str | None:
    """The recipe JSON an MP4 written by :func:`write_mp4` carries, or None when it carries none."""
    result = subprocess.run([ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-i", str(path),
                             "-f", "ffmetadata", "-"], stdin=subprocess.DEVNULL, capture_output=True,
                            **_quiet_child())
    if result.returncode != 0:
        raise ReverieError(f"cannot read video {path}: {_last_line(result.stderr.decode(errors='replace'))}")
    # ffmetadata escapes '=', ';', '#', '\\' and newlines with a backslash; a value may run over lines
    text = result.stdout.decode("utf-8", "replace")
    match = re.search(r"^comment=((?:[^\\\n]|\\.)*)$", text, flags=re.MULTILINE | re.DOTALL)
    if match is None:
        return None
    value = re.sub(r"\\(.)", r"\1", match[1], flags=re.DOTALL)
    return value[len(RECIPE_TAG) + 1:] if value.startswith(RECIPE_TAG + "=") else None


# Audio codecs every MP4 player plays; others (PCM, Vorbis...) are re-encoded as AAC.
_MP4_AUDIO = ("aac", "mp3")


def _add_audio(video: str, source: Path, target: str, codec: str, seconds: Fraction) -> None:
    """``video``'s picture with ``source``'s first audio track, read for at most ``seconds`` (the
    video's length): copied as it is when it is AAC or MP3, else (or if copying fails) re-encoded as AAC.

    The audio input is limited, not the output: ``-shortest`` would also cut the video where an
    audio track a few milliseconds shorter than the picture ends, losing the last frames.
    """
    limit = f"{math.ceil(seconds * 1_000_000) / 1_000_000:.6f}"  # rounded up: never cuts into the last frame
    command = ["-y", "-i", video, "-t", limit, "-i", str(source), "-map", "0:v:0", "-map", "1:a:0",
               "-c:v", "copy", "-movflags", "+faststart"]
    if codec in _MP4_AUDIO:
        try:
            _run_ffmpeg([*command, "-c:a", "copy", "-f", "mp4", target], "copying the audio track")
            return
        except ReverieError:
            pass
    _run_ffmpeg([*command, "-c:a", "aac", "-b:a", "192k", "-f", "mp4", target], f"re-encoding the audio of {source}")


def _probe(path: str | os.PathLike) -> str:
    """ffmpeg's description of a file's streams (``ffmpeg -i`` with no output prints it and exits 1)."""
    path = Path(path)
    if not path.is_file():
        raise ReverieError(f"video not found: {path}")
    result = subprocess.run([ffmpeg_exe(), "-hide_banner", "-nostdin", "-i", str(path)], stdin=subprocess.DEVNULL,
                            capture_output=True, text=True, errors="replace", **_quiet_child())
    if "Stream #" not in result.stderr:
        raise ReverieError(f"cannot read video {path}: {_last_line(result.stderr)}")
    return result.stderr


def audio_codec(path: str | os.PathLike) -> str | None:
    """The codec of a file's first audio track (``"aac"``, ``"pcm_s16le"``...), or None without one."""
    match = re.search(r"Stream #\S+.*?: Audio: (\w+)", _probe(path))
    return match[1] if match else None


def probe_has_audio(path: str | os.PathLike) -> bool:
    """Whether a video file has an audio track."""
    return audio_codec(path) is not None


def read_video(path: str | os.PathLike) -> tuple[Iterator[torch.Tensor], float, int, bool]:
    """A video's frames, read one at a time: (iterator of [1, 3, H, W] in [0, 1], fps, frame count, has audio).

    The frame count is found by decoding the file once (exact, where a container's header may not be).
    """
    import imageio_ffmpeg

    has_audio = probe_has_audio(path)
    try:
        frame_count, _ = imageio_ffmpeg.count_frames_and_secs(str(path))
        reader = imageio_ffmpeg.read_frames(str(path))
        meta = next(reader)
    except (OSError, RuntimeError) as error:
        raise ReverieError(f"cannot read video {path}: {_last_line(str(error))}") from None
    width, height = meta["size"]

    def frames() -> Iterator[torch.Tensor]:
        try:
            for data in reader:
                array = np.frombuffer(data, dtype=np.uint8).reshape(height, width, 3)  # [H, W, 3]
                # [H, W, 3] uint8 -> [1, 3, H, W] floats in [0, 1]
                yield torch.from_numpy(array.astype(np.float32) / 255.0).permute(2, 0, 1).unsqueeze(0).contiguous()
        finally:
            reader.close()

    return frames(), float(meta["fps"]), int(frame_count), has_audio
