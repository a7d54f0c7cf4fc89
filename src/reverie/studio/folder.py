"""The studio's own folder: uploads, results, frames and the thumbnail cache, and nothing outside it.

    reverie-studio/
      inputs/      uploads, stored under a name with their content hash (what recipes name)
      results/     every result as Reverie wrote it (PNG or MP4 with its recipe)
      frames/      animation and video frame folders (resumable)
      thumbnails/  channel thumbnails, kept between runs of the studio

Uploads are bounded (bytes and pixels) and decoded by Reverie's own reader before they are kept;
names a recipe gives are only ever looked up inside ``inputs/`` (plain names: no folders, no ``..``).
"""
from __future__ import annotations

import hashlib
import re
import shutil
import time
from pathlib import Path

import numpy as np
from PIL import Image

from reverie.errors import ReverieError
from reverie.io.atomic import atomic_path
from reverie.io.images import open_picture

MAX_IMAGE_BYTES = 64 * 1024 * 1024
MAX_IMAGE_PIXELS = 4096 * 4096         # a 16 Mpx photo; dreams of it are tiled
MAX_VIDEO_BYTES = 512 * 1024 * 1024
MAX_MESH_BYTES = 64 * 1024 * 1024
IMAGE_TYPES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff")
VIDEO_TYPES = (".mp4", ".mov", ".webm", ".mkv", ".avi", ".gif")
MESH_TYPES = (".obj", ".ply", ".glb", ".gltf", ".off", ".stl")
_SAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def _megabytes(count: int) -> str:
    return f"{count / 1024 / 1024:.0f} MB"


def _digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class StudioFolder:
    """Paths inside the studio's folder, created on first use."""

    def __init__(self, root: str | Path):
        self.root = Path(root).resolve()
        for part in ("inputs", "results", "frames", "thumbnails"):
            (self.root / part).mkdir(parents=True, exist_ok=True)

    @property
    def inputs(self) -> Path:
        return self.root / "inputs"

    @property
    def results(self) -> Path:
        return self.root / "results"

    @property
    def frames(self) -> Path:
        return self.root / "frames"

    @property
    def thumbnails(self) -> Path:
        return self.root / "thumbnails"

    # -- uploads ---------------------------------------------------------------------------------

    def _keep(self, upload: str | Path, types: tuple[str, ...], limit: int, what: str) -> Path:
        """Copy an uploaded file into inputs/ as ``<stem>-<hash>.<ext>``: the same bytes (so its
        sha256 is the user's file's), under a plain name a recipe can carry."""
        upload = Path(upload)
        suffix = upload.suffix.lower()
        if suffix not in types:
            raise ReverieError(f"{what} {upload.name[:80]} is not a supported file (valid: {', '.join(types)})")
        size = upload.stat().st_size
        if size > limit:
            raise ReverieError(f"{what} {upload.name[:80]} is {_megabytes(size)}; the studio takes at most {_megabytes(limit)}")
        digest = _digest(upload)
        stem = _SAFE.sub("-", upload.stem).strip("-.")[:40] or what.replace(" ", "-")
        kept = self.inputs / f"{stem}-{digest[:12]}{suffix}"
        if not kept.exists():
            with atomic_path(kept) as temporary:
                shutil.copyfile(upload, temporary)
        return kept

    def keep_image(self, upload: str | Path, what: str = "image") -> str:
        """Store an uploaded image (checked by decoding it) and return the name recipes use for it."""
        picture = open_picture(upload, what=what, noun=what)  # a file PIL cannot decode fails here
        width, height = picture.size
        if width * height > MAX_IMAGE_PIXELS:
            raise ReverieError(f"{what} is {width}x{height} ({width * height / 1e6:.0f} Mpx); the studio takes at most "
                               f"{MAX_IMAGE_PIXELS / 1e6:.0f} Mpx (scale it down, or use the command line)")
        return self._keep(upload, IMAGE_TYPES, MAX_IMAGE_BYTES, what).name

    def keep_video(self, upload: str | Path) -> str:
        return self._keep(upload, VIDEO_TYPES, MAX_VIDEO_BYTES, "video").name

    def keep_mesh(self, upload: str | Path) -> str:
        return self._keep(upload, MESH_TYPES, MAX_MESH_BYTES, "mesh").name

    def keep_mask(self, painted: np.ndarray) -> str | None:
        """Store a painted mask (an [H, W, 4] RGBA layer: painted where alpha > 0) as a white-on-black
        PNG; None when nothing was painted."""
        alpha = painted[..., 3] if painted.ndim == 3 and painted.shape[2] == 4 else painted.max(axis=-1)
        if not alpha.any():
            return None
        picture = Image.fromarray(np.where(alpha > 0, 255, 0).astype(np.uint8), mode="L")
        encoded = picture.tobytes()
        kept = self.inputs / f"mask-{hashlib.sha256(encoded).hexdigest()[:12]}.png"
        if not kept.exists():
            with atomic_path(kept) as temporary:
                picture.save(temporary, format="PNG")
        return kept.name

    def input_path(self, name: str, field: str) -> Path:
        """The stored input a recipe names; a ReverieError when it is not a plain name kept here."""
        if not name or Path(name).name != name or name in (".", ".."):
            raise ReverieError(f"the recipe's {field} '{name[:80]}' is not a file the studio keeps; "
                               f"upload the {field} file again")
        path = self.inputs / name
        if not path.is_file():
            raise ReverieError(f"the recipe's {field} {name[:80]} is not among the studio's inputs; "
                               f"upload that file to reproduce the result")
        return path

    # -- outputs ---------------------------------------------------------------------------------

    def _unused(self, folder: Path, kind: str, suffix: str) -> Path:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        for number in range(1, 10_000):
            path = folder / f"{kind}-{stamp}-{number}{suffix}"
            if not path.exists():
                return path
        raise ReverieError(f"too many results this second in {folder}")

    def result_path(self, kind: str, suffix: str = ".png") -> Path:
        """A new, unused result name: ``<kind>-<time>-<n>.png``, ordered by when it was made."""
        return self._unused(self.results, kind, suffix)

    def frames_folder(self, kind: str) -> Path:
        """A new, unused folder name for an animation's or a video's frames."""
        return self._unused(self.frames, kind, "")
