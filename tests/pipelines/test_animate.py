"""Dream animation: the frame loop, exact resume, flat memory, frame files and the ``animate`` command."""
from __future__ import annotations

import gc
import json
import os
import signal
import subprocess
import sys
import time
import tracemalloc
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
import torch

from reverie.engine.animate import dream_frames, quantize
from reverie.engine.progress import Progress as FrameProgress
from reverie.engine.deepdream import DreamSettings
from reverie.errors import ReverieError
from reverie.imaging import from_pil, to_pil
from reverie.io.frames import frame_path
from reverie.io.images import read_recipe_text
from reverie.objectives import layer
from reverie.pipelines.animate import FramePlan, animate, run
from reverie import AnimateRecipe

REVERIE = Path(sys.executable).parent / "reverie"
TINY = DreamSettings(octaves=1, steps=2, jitter=2, min_octave_size=16)
# The embedded model at 48 px, 1 octave of 2 steps: about a tenth of a second per frame.
QUICK = ["--size", "48x48", "--octaves", "1", "--steps", "2", "--quiet"]


@dataclass(frozen=True)
class Nudge:
    """A stand-in frame transform that uses the frame's generator: a random roll of up to 2 px."""

    def __call__(self, frame, context):
        shift = int(torch.randint(-2, 3, (2,), generator=context.generator).sum())
        return torch.roll(frame, shifts=shift, dims=-1)

    def expression(self) -> str:
        return "nudge()"


def tiny_recipe(**changes) -> AnimateRecipe:
    recipe = AnimateRecipe(source="noise", size=(32, 32), model="custom:TinyCNN", objective="layer(features.relu2)",
                           settings=TINY, transforms=("zoom(0.05)", "rotate(3)"), frames=6, seed=3)
    return replace(recipe, **changes)


def frame_bytes(folder: Path) -> list[bytes]:
    return [path.read_bytes() for path in sorted(folder.glob("frame-*.png"))]


def stop_after(frame_index: int):
    """A hard interrupt (no stop signal) during the frame after ``frame_index``: that frame is lost."""
    def progress(event: FrameProgress) -> None:
        if event.frame_index == frame_index + 1:
            raise KeyboardInterrupt
    return progress


def test_quantize_matches_an_8bit_png_round_trip():
    image = torch.rand(1, 3, 16, 16, generator=torch.Generator().manual_seed(0)) * 1.2 - 0.1
    assert torch.equal(quantize(image), from_pil(to_pil(image)))
    assert torch.equal(quantize(quantize(image)), quantize(image))


def test_each_frame_is_dreamed_from_the_transformed_previous_frame(tiny_cnn):
    seen = []

    def record(frame, context):
        seen.append((context.frame_index, context.frame_count, frame.clone()))
        return frame

    start = torch.full((1, 3, 32, 32), 0.5)
    plan = lambda index: (layer("features.relu2"), TINY)  # noqa: E731
    frames = [f.image for f in dream_frames(tiny_cnn, start, plan, [record], frame_count=4, seed=1)]
    assert [index for index, _, _ in seen] == [1, 2, 3]  # frame 0 is the start's dream, untransformed
    assert all(count == 4 for _, count, _ in seen)
    for (_, _, given), previous in zip(seen, frames):
        assert torch.equal(given, previous)
    assert all(not torch.equal(a, b) for a, b in zip(frames, frames[1:]))  # every frame is dreamed further


def test_resumed_run_equals_the_uninterrupted_run(tiny_cnn, tmp_path):
    transforms = ("zoom(0.05)", "rotate(3)")
    recipe = tiny_recipe(transforms=transforms)
    whole = animate(recipe, tmp_path / "whole", model=tiny_cnn)
    assert whole.first_index == 0
    with pytest.raises(KeyboardInterrupt):
        animate(recipe, tmp_path / "cut", model=tiny_cnn, progress=stop_after(2))
    assert len(frame_bytes(tmp_path / "cut")) == 3  # frames 0, 1, 2 were finished before the interrupt
    resumed = animate(recipe, tmp_path / "cut", model=tiny_cnn, resume=True)
    assert resumed.first_index == 3
    assert frame_bytes(tmp_path / "cut") == frame_bytes(tmp_path / "whole")
    assert len(frame_bytes(tmp_path / "whole")) == 6


def test_randomness_is_per_frame_so_resume_replays_random_transforms(tiny_cnn, tmp_path):
    recipe = tiny_recipe(transforms=())
    live = [Nudge()]  # a live frame transform, passed as an object: no text round trip
    run(recipe, tmp_path / "whole", model=tiny_cnn, transforms=live)
    with pytest.raises(KeyboardInterrupt):
        run(recipe, tmp_path / "cut", model=tiny_cnn, transforms=live, progress=stop_after(1))
    run(recipe, tmp_path / "cut", model=tiny_cnn, transforms=live, resume=True)
    assert frame_bytes(tmp_path / "cut") == frame_bytes(tmp_path / "whole")
    run(replace(recipe, seed=4), tmp_path / "other", model=tiny_cnn, transforms=live)
    assert frame_bytes(tmp_path / "other")[1:] != frame_bytes(tmp_path / "whole")[1:]


def test_frames_embed_the_recipe_and_their_index(tiny_cnn, tmp_path):
    animate(tiny_recipe(frames=3), tmp_path / "out", model=tiny_cnn)
    folder_recipe = AnimateRecipe.from_json((tmp_path / "out" / "recipe.json").read_text())
    assert folder_recipe.frame_index is None and folder_recipe.frames == 3
    for index in range(3):
        embedded = AnimateRecipe.from_json(read_recipe_text(frame_path(tmp_path / "out", index)))
        assert embedded.frame_index == index
        assert replace(embedded, frame_index=None) == folder_recipe
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "frame-00000.png", "frame-00001.png", "frame-00002.png", "recipe.json"]


def test_a_folder_holding_an_animation_is_refused_without_resume(tiny_cnn, tmp_path):
    animate(tiny_recipe(frames=2), tmp_path / "out", model=tiny_cnn)
    before = frame_bytes(tmp_path / "out")
    with pytest.raises(ReverieError, match="already holds an animation; pass --resume"):
        animate(tiny_recipe(frames=2), tmp_path / "out", model=tiny_cnn)
    assert frame_bytes(tmp_path / "out") == before


def test_resume_with_options_that_change_the_frames_is_refused(tiny_cnn, tmp_path):
    with pytest.raises(KeyboardInterrupt):
        animate(tiny_recipe(), tmp_path / "out", model=tiny_cnn, progress=stop_after(0))
    with pytest.raises(ReverieError, match=r"seed is 4 but the frames there were made with 3"):
        animate(tiny_recipe(seed=4), tmp_path / "out", model=tiny_cnn, resume=True)
    with pytest.raises(ReverieError, match=r"steps is 3 but .* with 2"):
        animate(tiny_recipe(settings=replace(TINY, steps=3)), tmp_path / "out", model=tiny_cnn, resume=True)
    # fps changes no pixel, so it may differ; the frames continue as the folder's recipe says.
    result = animate(tiny_recipe(fps=30.0), tmp_path / "out", model=tiny_cnn, resume=True)
    assert result.first_index == 1 and result.recipe.fps == 12.0


def test_memory_stays_flat_over_a_long_run(tiny_cnn, tmp_path):
    samples = {}

    def measure(event: FrameProgress) -> None:
        if event.frame_index in (10, 59) and event.frame_index not in samples:
            gc.collect()
            tensors = sum(1 for item in gc.get_objects() if issubclass(type(item), torch.Tensor))
            samples[event.frame_index] = (tensors, tracemalloc.get_traced_memory()[0])

    tracemalloc.start()
    try:
        animate(tiny_recipe(frames=60, size=(24, 24)), tmp_path / "long", model=tiny_cnn, progress=measure)
    finally:
        tracemalloc.stop()
    (tensors_10, bytes_10), (tensors_59, bytes_59) = samples[10], samples[59]
    assert tensors_59 <= tensors_10, f"live tensors grew from {tensors_10} to {tensors_59}"
    assert bytes_59 - bytes_10 < 200_000, f"Python memory grew by {bytes_59 - bytes_10} bytes over 49 frames"


def test_progress_reports_every_step_of_every_frame_with_an_eta(tiny_cnn, tmp_path):
    events = []
    animate(tiny_recipe(frames=4), tmp_path / "out", model=tiny_cnn, progress=events.append)
    assert list(dict.fromkeys(e.frame_index for e in events)) == [0, 1, 2, 3]
    assert len(events) == 4 * TINY.octaves * TINY.steps
    fractions = [e.fraction for e in events]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0 and events[-1].seconds_left == 0.0
    assert all(e.seconds_left is not None and e.seconds_left >= 0 for e in events[1:])
    assert events[0].stage.startswith("frame 1/4 octave 1/")
    assert events[-1].preview().shape == (1, 3, 32, 32)


def test_keyframes_change_the_dream_options_over_time(tiny_cnn):
    recipe = tiny_recipe(keyframes=("2: steps=5, channel=3", "4: layer=features.relu1, step_size=0.05"), frames=6)
    plan = FramePlan(recipe, tiny_cnn)
    objective, settings = plan(0)
    assert objective.expression() == "layer(features.relu2)" and settings.steps == 2
    objective, settings = plan(3)
    assert objective.expression() == "channel(features.relu2, 3)" and settings.steps == 5
    objective, settings = plan(5)
    assert objective.expression() == "channel(features.relu1, 3)" and settings.step_size == 0.05


def test_keyframe_mistakes_are_reported_before_any_frame(tiny_cnn, tmp_path):
    with pytest.raises(ReverieError, match="unknown option 'step'"):
        animate(tiny_recipe(keyframes=("2: step=5",)), tmp_path / "a", model=tiny_cnn)
    with pytest.raises(ReverieError, match="keyframe options at frame 4: .*unknown layer 'features.relu9'"):
        animate(tiny_recipe(keyframes=("4: layer=features.relu9",)), tmp_path / "b", model=tiny_cnn)
    with pytest.raises(ReverieError, match="keyframe options at frame 3: steps must be a whole number from 1"):
        animate(tiny_recipe(keyframes=("3: steps=0",)), tmp_path / "c", model=tiny_cnn)
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists() and not (tmp_path / "c").exists()


# --- the command ----------------------------------------------------------------------------------

def test_the_animate_command_writes_frames_gif_and_mp4(tmp_path, reverie_cli):
    from PIL import Image

    from reverie.io.video import read_video

    code, _, err = reverie_cli("animate", "--frames", "3", *QUICK, "-o", tmp_path / "out", "--transform", "zoom(0.1)",
                               "--gif", tmp_path / "a.gif", "--mp4", tmp_path / "a.mp4", "--fps", "10")
    assert code == 0, err
    assert f"wrote 3 frames to {tmp_path / 'out'} and {tmp_path / 'a.gif'} and {tmp_path / 'a.mp4'}" in err
    with Image.open(tmp_path / "a.gif") as gif:
        assert (gif.n_frames, gif.size, gif.info["duration"], gif.info["loop"]) == (3, (48, 48), 100, 0)
    frames, fps, count, _ = read_video(tmp_path / "a.mp4")
    assert (fps, count, next(frames).shape) == (10.0, 3, (1, 3, 48, 48))
    recipe = json.loads((tmp_path / "out" / "recipe.json").read_text())
    assert recipe["transforms"] == ["zoom(0.1)"] and recipe["fps"] == 10.0
    assert recipe["settings"]["octaves"] == 1 and recipe["size"] == [48, 48]


def test_the_gif_delay_is_stored_in_the_recipe_and_used_by_encode(tmp_path, reverie_cli):
    from PIL import Image

    code, _, err = reverie_cli("animate", "--frames", "2", *QUICK, "-o", tmp_path / "out", "--delay", "7",
                               "--gif", tmp_path / "a.gif")
    assert code == 0, err
    assert json.loads((tmp_path / "out" / "recipe.json").read_text())["gif_delay"] == 7
    code, _, err = reverie_cli("encode", tmp_path / "out", "--gif", tmp_path / "b.gif")
    assert code == 0, err
    for name in ("a.gif", "b.gif"):
        with Image.open(tmp_path / name) as gif:
            assert gif.info["duration"] == 70, name
    code, _, err = reverie_cli("animate", "--frames", "2", *QUICK, "-o", tmp_path / "bad", "--delay", "1")
    assert code == 2 and "GIF delay must be a whole number" in err and not (tmp_path / "bad").exists()


def test_the_default_transform_is_a_gentle_zoom():
    assert AnimateRecipe().transforms == ("zoom(0.02)",)


def test_the_command_refuses_an_existing_animation_folder_in_one_line(tmp_path, reverie_cli):
    assert reverie_cli("animate", "--frames", "2", *QUICK, "-o", tmp_path / "out")[0] == 0
    before = frame_bytes(tmp_path / "out")
    code, _, err = reverie_cli("animate", "--frames", "2", *QUICK, "-o", tmp_path / "out")
    assert code == 2
    assert err == f"reverie: error: {tmp_path / 'out'} already holds an animation; pass --resume to continue it, " \
                  "or choose another output folder\n"
    assert frame_bytes(tmp_path / "out") == before


def test_the_command_refuses_to_resume_with_different_options(tmp_path, reverie_cli):
    assert reverie_cli("animate", "--frames", "2", *QUICK, "-o", tmp_path / "out")[0] == 0
    code, _, err = reverie_cli("animate", "--frames", "2", *QUICK, "-o", tmp_path / "out", "--resume", "--seed", "5")
    assert code == 2
    assert err.startswith(f"reverie: error: cannot resume {tmp_path / 'out'}: seed is 5 but the frames there "
                          "were made with 0") and err.count("\n") == 1
    code, _, err = reverie_cli("animate", "-o", tmp_path / "out", "--resume", "--quiet")  # the folder's own recipe
    assert code == 0, err
    assert err == f"all 2 frames in {tmp_path / 'out'} were already finished\n"


def test_a_bad_transform_is_one_line_and_writes_nothing(tmp_path, reverie_cli):
    code, _, err = reverie_cli("animate", "--frames", "2", *QUICK, "-o", tmp_path / "out", "--transform", "zom(0.02)")
    assert code == 2
    assert err == "reverie: error: unknown function 'zom' (nearest: zoom) at position 0\n"
    assert not (tmp_path / "out").exists()


def test_ctrl_c_keeps_the_finished_frames_and_resume_matches_an_uninterrupted_run(tmp_path, reverie_cli):
    # Enough frames that the interrupt lands part way even when a busy machine delays this poller.
    arguments = ["animate", "--frames", "120", *QUICK, "--transform", "zoom(0.05)", "--seed", "2"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}  # see conftest: one thread keeps busy CPUs fast
    process = subprocess.Popen([str(REVERIE), *arguments, "-o", str(tmp_path / "cut")], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not frame_path(tmp_path / "cut", 1).exists():
        assert process.poll() is None and time.monotonic() < deadline, process.communicate()[1]
        time.sleep(0.005)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=60)
    finished = len(frame_bytes(tmp_path / "cut"))
    assert process.returncode == 130, err
    assert 2 <= finished < 120, "the run was not interrupted part way"
    assert err.strip().splitlines()[-1] == (
        f"reverie: stopped; {finished} of 120 frames are finished in {tmp_path / 'cut'}; "
        f"continue with: reverie animate -o {tmp_path / 'cut'} --resume")

    code, _, err = reverie_cli("animate", "-o", tmp_path / "cut", "--resume", "--quiet")
    assert code == 0, err
    assert f"(resumed at frame {finished})" in err
    code, _, err = reverie_cli(*arguments, "-o", tmp_path / "whole")
    assert code == 0, err
    assert frame_bytes(tmp_path / "cut") == frame_bytes(tmp_path / "whole")
    assert not list((tmp_path / "cut").glob(".*"))  # no temporary file left behind


# --- edge filters that keep going ------------------------------------------------------------------

def _histogram_distance(frame: torch.Tensor, reference: torch.Tensor) -> float:
    """Half the L1 distance of the per-channel 32-bin histograms, averaged over channels: 0 same, 1 disjoint."""
    def histogram(image):
        return torch.stack([torch.histc(image[0, c], 32, 0, 1) for c in range(3)]) / image[0, 0].numel()
    return float((histogram(frame) - histogram(reference)).abs().sum(1).mean() / 2)


@pytest.mark.parametrize("anchored", [True, False])
def test_a_300_frame_sobel_animation_keeps_its_colours_and_detail(lite0, tmp_path, anchored):
    # The seed blog's Sobel ran its whole length; a bare edge map fed back collapses within ~20 frames
    # into near-black strokes (histogram distance ~0.95, variance ~0.002 on this setup). The anchored
    # default (mix 0.5, match 1) stays at ~0.03 and ~0.027. edge_anchor=False is the old behaviour.
    settings = DreamSettings(octaves=1, steps=2, jitter=8, min_octave_size=32)
    count = 300 if anchored else 60  # the bare map has collapsed long before frame 60
    recipe = AnimateRecipe(source="sample:chelsea", size=(96, 96), objective="layer(blocks.2)", frames=count,
                           settings=settings, transforms=("sobel()",), edge_anchor=anchored)
    frames = list(run(recipe, tmp_path / "sobel", model=lite0, device="cpu").frames())
    assert len(frames) == count
    distance = max(_histogram_distance(frame, frames[0]) for frame in frames)
    variance = min(float(frame.var()) for frame in frames)
    if anchored:
        assert distance < 0.25 and variance > 0.01, (distance, variance)
        assert float((frames[-1] - frames[-2]).abs().mean()) > 0.01  # still moving, not frozen
    else:
        assert distance > 0.25 and variance < 0.01, (distance, variance)


def test_a_recipe_from_before_edge_anchoring_replays_the_bare_edge_map(tiny_cnn, tmp_path):
    data = json.loads(tiny_recipe(transforms=("sobel()",), frames=2).to_json())
    del data["edge_anchor"]  # as a recipe written before the field existed
    old = AnimateRecipe.from_json(json.dumps(data))
    assert old.edge_anchor is False and AnimateRecipe().edge_anchor is True
    def frames_of(recipe, name):
        return list(run(recipe, tmp_path / name, model=tiny_cnn, device="cpu").frames())
    old_frames = frames_of(old, "old")
    bare_frames = frames_of(tiny_recipe(transforms=("sobel(mix=1, match=0)",), frames=2), "bare")
    new_frames = frames_of(tiny_recipe(transforms=("sobel()",), frames=2), "new")
    assert all(torch.equal(a, b) for a, b in zip(old_frames, bare_frames, strict=True))
    assert not torch.equal(old_frames[1], new_frames[1])
    assert json.loads((tmp_path / "old" / "recipe.json").read_text())["transforms"] == ["sobel()"]


def test_a_preset_fills_in_the_transforms_and_frames_not_given(tmp_path, reverie_cli):
    code, _, err = reverie_cli("animate", "--preset", "sobel-life", "--frames", "2", *QUICK, "-o", tmp_path / "a")
    assert code == 0, err
    recipe = json.loads((tmp_path / "a" / "recipe.json").read_text())
    assert recipe["transforms"] == ["sobel(mix=0.5, match=1)"] and recipe["frames"] == 2
    code, _, err = reverie_cli("animate", "--preset", "sobel-lif", "-o", tmp_path / "b")
    assert code == 2 and err == "reverie: error: unknown preset 'sobel-lif' (nearest: sobel-life)\n"


def test_every_preset_parses_and_runs_a_frame(tiny_cnn, tmp_path):
    from reverie.animation_presets import PRESETS

    for name, preset in PRESETS.items():
        result = run(tiny_recipe(transforms=preset.transforms, frames=2), tmp_path / name, model=tiny_cnn,
                     device="cpu")
        assert len(list(result.frames())) == 2, name


def test_animate_help_lists_every_frame_transform_and_preset(reverie_cli):
    from reverie.animation_presets import PRESETS
    from reverie.frame_transforms import FUNCTIONS, FrameTransform

    code, out, _ = reverie_cli("animate", "--help")
    assert code == 0
    text = " ".join(out.split())
    listing = text.split("Frame transforms", 1)[1].split("Arguments:", 1)[0]  # the list, not the presets
    for name, function in FUNCTIONS.items():
        if isinstance(function, type) and issubclass(function, FrameTransform):
            assert f"{name}(" in listing, name
    for name in PRESETS:
        assert name in text.replace("- ", "-"), name


def test_perlin_starts_from_colour_fractal_noise(tmp_path, reverie_cli):
    from reverie.io.images import read_image
    from reverie.pipelines.prepare import load_start

    image, digest = load_start("noise:perlin", None, (40, 24), 3)
    assert image.shape == (1, 3, 24, 40) and digest is None
    assert image.std() > 0.1 and not torch.equal(image[:, 0], image[:, 1])  # broad colour blobs, not grey
    assert torch.equal(image, load_start("noise:perlin", None, (40, 24), 3)[0])  # from the seed
    code, _, err = reverie_cli("animate", "--perlin", "--frames", "2", *QUICK, "-o", tmp_path / "p",
                               "-t", "perlin_warp(3, scale=16)")
    assert code == 0, err
    assert json.loads((tmp_path / "p" / "recipe.json").read_text())["source"] == "noise:perlin"
    assert read_image(frame_path(tmp_path / "p", 1)).std() > 0.05
