"""What every task returns: its images (or files), whether it was stopped, and the recipe that replays it.

Each task's result is one of three shapes: :class:`ImageResult` (dream, visualize, interpolate,
caricature, style), :class:`TextureResult` (a texture and its mesh) and :class:`FramesResult` (a folder
of frames, and for a video its MP4). All save atomically with the recipe embedded, stopped or not.
"""
from __future__ import annotations

import io
import os
from dataclasses import dataclass, field, replace
from pathlib import Path

import torch
from PIL import Image

from reverie.engine.progress import Progress, ProgressCallback, StopSignal, Tracker
from reverie.errors import ReverieError
from reverie.imaging import flatten_alpha, grid, to_pil
from reverie.io.frames import FrameFolder
from reverie.io.images import save_output
from reverie.mesh import Mesh, turntable
from reverie.pipelines.show import figure_html, image_html, player_html
from reverie.recipe import Recipe, StopPoint


def tracker_for(recipe: Recipe, progress: ProgressCallback | None, stop: StopSignal | None) -> Tracker:
    """The tracker a task reports through: it stops where a stopped recipe stopped, or when ``stop`` is set."""
    point = recipe.stopped_at
    return Tracker(progress, stop, stop_after=point.after if point is not None and point.unit == "step" else None)


def stopped_recipe(recipe: Recipe, tracker: Tracker) -> Recipe:
    """``recipe`` with where the run stopped, if it did (steps counted by the tracker)."""
    if not tracker.stopped:
        return replace(recipe, stopped_at=None)
    stage = tracker.last.stage if tracker.last is not None else ""
    step = f" step {tracker.last.step}/{tracker.last.steps}" if tracker.last is not None else ""
    return replace(recipe, stopped_at=StopPoint(tracker.steps_done, "step", (stage + step).strip()[:200]))


class Passes:
    """Progress over several render passes (sheet batches, layers), reported as one run."""

    def __init__(self, progress: ProgressCallback, count: int, what: str = "batch"):
        self.progress, self.count, self.what, self.index = progress, count, what, 0

    def __call__(self, event: Progress) -> None:
        stage = f"{self.what} {self.index + 1}/{self.count}" if self.count > 1 else event.stage
        self.progress(replace(event, stage=stage, work_done=self.index * event.work_total + event.work_done,
                              work_total=self.count * event.work_total))


@dataclass(frozen=True)
class Result:
    """A task's outcome: the recipe that replays it, and whether a stop cut it short."""

    recipe: Recipe
    stopped: bool = False

    def picture(self) -> Image.Image:
        """What the result looks like, as one PIL image."""
        raise NotImplementedError

    def save(self, path: str | os.PathLike) -> Path:
        """Write :meth:`picture` with the recipe embedded (atomically; PNG, JPEG or WebP by extension)."""
        return save_output(path, self.picture(), self.recipe.to_json())

    def to_pil(self) -> Image.Image:
        return self.picture()

    def _repr_png_(self) -> bytes:
        buffer = io.BytesIO()
        self.picture().save(buffer, format="PNG")
        return buffer.getvalue()

    def caption(self) -> str:
        """One line under the picture in a notebook: the task, the size, where it stopped."""
        picture = self.picture()
        point = self.recipe.stopped_at
        stopped = f" · stopped at {point.stage or 'the start'}" if self.stopped and point is not None else ""
        return f"{self.recipe.KIND} · {picture.width}x{picture.height}{stopped}"

    def _repr_html_(self) -> str:
        """In a notebook: the picture, a caption and the recipe (folded)."""
        return figure_html(image_html(self.picture(), self.recipe.KIND), self.caption(), self.recipe.to_json())


@dataclass(frozen=True)
class ImageResult(Result):
    """Images [N, C, H, W] in [0, 1] (C = 4 with alpha), their labels and the objective's history."""

    images: torch.Tensor = field(default_factory=lambda: torch.empty(0, 3, 1, 1))
    labels: list[str] = field(default_factory=list)
    history: list[float] = field(default_factory=list)

    @property
    def image(self) -> torch.Tensor:
        """The first image, [1, C, H, W]."""
        return self.images[:1]

    def picture(self) -> Image.Image:
        """One image as is; several as a labelled contact sheet."""
        if self.images.shape[0] == 1:
            return to_pil(self.images)
        return grid(flatten_alpha(self.images), labels=self.labels or [str(i) for i in range(len(self.images))])


@dataclass(frozen=True)
class TextureResult(Result):
    """A UV texture [1, 3, H, W] in [0, 1], the mesh it fits, and the objective's history."""

    texture: torch.Tensor = field(default_factory=lambda: torch.empty(1, 3, 1, 1))
    mesh: Mesh | None = None
    history: list[float] = field(default_factory=list)
    snapshots: tuple[torch.Tensor, ...] = ()  # the texture at evenly spaced steps, when asked for (run(snapshots=N))

    @property
    def image(self) -> torch.Tensor:
        return self.texture

    def picture(self) -> Image.Image:
        return to_pil(self.texture)

    def turntable(self, frames: int = 24, size: int | None = None) -> torch.Tensor:
        """[frames, 3, size, size] views of the textured mesh turning once (size: the render size)."""
        return turntable(self.mesh, self.texture, frames, size or self.recipe.render_size)

    def growing(self, size: int | None = None) -> torch.Tensor:
        """[N, 3, size, size]: the mesh turning once while its texture evolves, frame i wearing snapshot i."""
        if not self.snapshots:
            raise ValueError("no texture snapshots: run the texture with snapshots=N")
        return turntable(self.mesh, self.snapshots, len(self.snapshots), size or self.recipe.render_size)


@dataclass(frozen=True)
class FramesResult(Result):
    """A folder of finished frames (and, for a video, the MP4 made of them)."""

    folder: Path = Path(".")
    first_index: int = 0          # the frame this run started at (0, or where a resumed run picked up)
    output: Path | None = None    # the encoded video, when the task writes one

    def frames(self) -> FrameFolder:
        """The frames on disk, read one at a time when indexed: [1, 3, H, W] in [0, 1]."""
        return FrameFolder(self.folder)

    def picture(self) -> Image.Image:
        """The last finished frame."""
        frames = self.frames()
        if len(frames) == 0:
            raise ValueError(f"{self.folder} holds no finished frame")
        return to_pil(frames[len(frames) - 1])

    def _repr_png_(self) -> bytes | None:
        try:
            return super()._repr_png_()
        except ReverieError:  # stopped before its first frame: nothing to show but the text
            return None

    def _repr_html_(self) -> str:
        """In a notebook: an inline player (the MP4 if one was written, else an animated WebP of the
        frames), a caption and the recipe (folded)."""
        try:
            frames = self.frames()
        except ReverieError as error:
            return figure_html("", str(error), self.recipe.to_json())
        fps = getattr(self.recipe, "fps", None) or 12.0
        return figure_html(player_html(frames, fps, self.output), f"{self.caption()} · {len(frames)} frames",
                           self.recipe.to_json())
