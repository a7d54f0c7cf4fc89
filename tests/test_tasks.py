"""The task API: every task runs from a recipe, reports one progress event with a preview, stops
within one step keeping its work, and returns a result whose recipe records the stop and replays it."""
from __future__ import annotations

import json
import threading
from dataclasses import replace

import pytest
import torch

import reverie
from reverie import DreamSettings, ReverieError, RenderSettings, StopPoint
from reverie.engine.progress import Progress, Tracker
from reverie.io.video import write_mp4
from reverie.objectives import channel
from reverie.objectives.style import StyleObjective, style_targets
from reverie.pipelines.prepare import record

LAYER = "features.relu2"
STEPS = RenderSettings(steps=8, redirect_steps=2)
DREAM = DreamSettings(octaves=2, steps=4, jitter=2, min_octave_size=16)
FRAME = DreamSettings(octaves=1, steps=2, jitter=2, min_octave_size=16)


class StopAfter:
    """A progress callback that sets its stop event after ``count`` events, and keeps the second
    event's preview (taken mid-run)."""

    def __init__(self, count: int = 3):
        self.count, self.seen = count, 0
        self.stop = threading.Event()
        self.preview: torch.Tensor | None = None
        self.events: list[Progress] = []

    def __call__(self, event: Progress) -> None:
        self.seen += 1
        self.events.append(event)
        if self.seen == 2:
            self.preview = event.preview()
        if self.seen >= self.count:
            self.stop.set()


def write_quad(path):
    """A square facing the camera, with UVs spanning the whole texture."""
    path.write_text("v -1 -1 0\nv 1 -1 0\nv 1 1 0\nv -1 1 0\nvt 0 0\nvt 1 0\nvt 1 1\nvt 0 1\n"
                    "f 1/1 2/2 3/3\nf 1/1 3/3 4/4\n")
    return path


def write_clip(path, photo):
    """Five 32x32 frames of ``photo``, shifted one pixel right per frame."""
    return write_mp4(path, [torch.roll(photo, shifts=k, dims=-1) for k in range(5)], fps=10)


def start(kind: str, tiny_cnn, photo32, tmp_path, probe: StopAfter):
    """Run task ``kind`` on the tiny CNN through the task API, reporting to ``probe``."""
    common = dict(model=tiny_cnn, progress=probe, stop=probe.stop)
    if kind == "dream":
        recipe = reverie.DreamRecipe(source="noise", size=(32, 32), objective=f"layer({LAYER})", settings=DREAM)
        return reverie.run(recipe, **common)
    if kind == "visualize":
        recipe = reverie.VisualizeRecipe(objective=f"channel({LAYER}, 3)", size=(32, 32), settings=STEPS)
        return reverie.run(recipe, **common)
    if kind == "interpolate":
        recipe = reverie.InterpolateRecipe(start=f"channel({LAYER}, 1)", end=f"channel({LAYER}, 2)", frames=3,
                                           size=(32, 32), settings=STEPS)
        return reverie.run(recipe, **common)
    if kind == "caricature":
        recipe = reverie.CaricatureRecipe(source="sample:coffee", layers=(LAYER,), size=(32, 32), settings=STEPS)
        return reverie.run(recipe, **common)
    if kind == "style":
        recipe = reverie.StyleRecipe(size=(32, 32), style_layers=("features.relu1", LAYER),
                                     content_layers=("features.relu3",), settings=STEPS)
        return reverie.run(recipe, **common)
    if kind == "texture":
        recipe = reverie.TextureRecipe(mesh=str(write_quad(tmp_path / "quad.obj")), objective=f"layer({LAYER})",
                                       size=(32, 32), render_size=32, settings=STEPS)
        return reverie.run(recipe, **common)
    if kind == "animate":
        recipe = reverie.AnimateRecipe(source="noise", size=(32, 32), objective=f"layer({LAYER})", settings=FRAME,
                                       frames=4)
        return reverie.run(recipe, output_dir=tmp_path / "frames", **common)
    if kind == "video":
        recipe = reverie.VideoRecipe(source=str(write_clip(tmp_path / "in.mp4", photo32)),
                                     objective=f"layer({LAYER})", settings=FRAME)
        return reverie.run(recipe, output=tmp_path / "out.mp4", **common)
    raise AssertionError(kind)


@pytest.mark.parametrize("kind", sorted(reverie.TASKS))
def test_a_stopped_task_keeps_its_work_and_records_where(kind, tiny_cnn, photo32, tmp_path):
    # A video's first frame takes 5 steps (nothing carried yet), an animation frame 2: stopping in
    # the step after the first frame leaves one finished frame either way.
    events = {"video": 6}.get(kind, 3)
    probe = StopAfter(events)
    result = start(kind, tiny_cnn, photo32, tmp_path, probe)
    assert result.stopped and probe.seen == events  # returned within one step of the stop
    point = result.recipe.stopped_at
    assert point is not None and point.stage
    if reverie.TASKS[kind].writes == "image":
        assert point == StopPoint(3, "step", point.stage)
        assert result.image.shape[-2:] == (32, 32) and 0 <= float(result.image.min()) <= float(result.image.max()) <= 1
        saved = result.save(tmp_path / "stopped.png")
        assert reverie.read_recipe(saved) == result.recipe
    else:  # frame tasks keep the finished frames: 2 steps per frame, so frame 0 is done, frame 1 dropped
        assert point == StopPoint(1, "frame", "frame 1/" + point.stage.split("/")[1])
        assert len(result.frames()) == 1
        assert reverie.read_recipe(result.recipe.to_json()).stopped_at == point
        if kind == "video":  # the MP4 of the finished frames is written too
            assert result.output is not None and result.output.exists()
    assert probe.preview is not None and probe.preview.dim() == 4 and probe.preview.shape[1] in (3, 4)
    assert all(0 <= event.fraction <= 1 for event in probe.events)


@pytest.mark.parametrize("kind", ["dream", "visualize", "caricature"])
def test_a_stopped_recipe_replays_to_the_same_pixels(kind, tiny_cnn, photo32, tmp_path):
    stopped = start(kind, tiny_cnn, photo32, tmp_path, StopAfter(3))
    replayed = reverie.run(reverie.read_recipe(stopped.recipe.to_json()), model=tiny_cnn)
    assert replayed.stopped and replayed.recipe.stopped_at == stopped.recipe.stopped_at
    assert torch.equal(replayed.images, stopped.images)
    finished = reverie.run(replace(stopped.recipe, stopped_at=None), model=tiny_cnn)
    assert not finished.stopped and finished.recipe.stopped_at is None
    assert not torch.equal(finished.images, stopped.images)


def test_a_stopped_animation_replays_to_the_same_frames(tiny_cnn, photo32, tmp_path):
    stopped = start("animate", tiny_cnn, photo32, tmp_path, StopAfter(3))
    again = reverie.run(stopped.recipe, output_dir=tmp_path / "again", model=tiny_cnn)
    assert again.stopped and len(again.frames()) == 1
    assert (tmp_path / "again" / "frame-00000.png").read_bytes() == (tmp_path / "frames" / "frame-00000.png").read_bytes()


def test_an_unstopped_run_reports_every_step_with_an_eta(tiny_cnn):
    events = []
    result = reverie.dream("noise", size=(32, 32), model=tiny_cnn, objective=f"layer({LAYER})", settings=DREAM,
                           progress=events.append)
    assert not result.stopped and result.recipe.stopped_at is None
    assert len(events) == DREAM.octaves * DREAM.steps
    assert events[-1].fraction == 1.0 and events[-1].seconds_left == 0.0
    assert all(event.seconds_left is not None for event in events[:-1] if event.fraction > 0)


def test_a_live_masked_objective_is_used_without_text(tiny_cnn, photo32):
    mask = torch.zeros(1, 1, 32, 32)
    mask[..., :, 16:] = 1
    objective = channel(LAYER, 3).masked(mask)
    result = reverie.dream(photo32, model=tiny_cnn, objective=objective, settings=DREAM)
    assert result.recipe.objective.startswith("live:")
    assert not torch.equal(result.image, photo32)
    with pytest.raises(ReverieError, match="was a live Python object .* no text form, so a file cannot replay it"):
        reverie.run(replace(reverie.read_recipe(result.recipe.to_json()), source="noise"), model=tiny_cnn)


def test_a_live_style_objective_is_used_without_text(tiny_cnn, photo32):
    layers = ("features.relu1", LAYER)
    objective = StyleObjective(style_targets(record(tiny_cnn, reverie.sample("coffee"), layers), layers))
    result = reverie.visualize(objective, model=tiny_cnn, size=(32, 32), settings=STEPS)
    assert result.recipe.objective.startswith("live:")
    assert len(result.history) == STEPS.steps and result.history[-1] > result.history[0]


def test_a_live_mask_tensor_confines_a_keyword_dream(tiny_cnn, photo32):
    mask = torch.zeros(1, 1, 32, 32)
    mask[..., :, 20:] = 1
    result = reverie.dream(photo32, model=tiny_cnn, objective=f"layer({LAYER})", settings=DREAM, mask=mask)
    assert torch.equal(result.image[..., :, :20], photo32[..., :, :20])
    assert not torch.equal(result.image[..., :, 20:], photo32[..., :, 20:])
    assert result.recipe.mask == "live:tensor"


def test_a_live_frame_transform_is_called_for_every_frame(tiny_cnn, tmp_path):
    seen = []

    def record_frame(frame, context):
        seen.append(context.frame_index)
        return frame

    reverie.animate("noise", tmp_path / "anim", model=tiny_cnn, objective=f"layer({LAYER})", transforms=[record_frame],
                    frames=3, size=(32, 32), settings=FRAME)
    assert seen == [1, 2]


def test_every_task_has_a_schema_with_its_defaults_and_bounds():
    for kind, task in reverie.TASKS.items():
        schema = reverie.recipe_schema(kind)
        assert schema["properties"]["kind"] == {"const": kind}
        assert schema["additionalProperties"] is False
        defaults = json.loads(task.recipe().to_json())
        for name, value in defaults.items():
            if name != "kind":
                assert schema["properties"][name]["default"] == value, (kind, name)
    steps = reverie.recipe_schema("dream")["properties"]["settings"]["properties"]["steps"]
    assert (steps["type"], steps["minimum"], steps["default"]) == ("integer", 1, 20)
    ramp = reverie.recipe_schema("visualize")["properties"]["blend_ramp"]
    assert ramp["enum"] == ["horizontal", "vertical", "radial"]


def test_a_task_that_writes_as_it_runs_needs_its_output():
    with pytest.raises(ReverieError, match="an animate task writes its frames as it runs: pass output_dir=PATH"):
        reverie.run(reverie.AnimateRecipe())


def test_an_unknown_task_kind_names_the_nearest():
    with pytest.raises(ReverieError, match=r"unknown recipe kind 'dreem' \(nearest: dream"):
        reverie.read_recipe('{"kind": "dreem"}')


def test_old_flat_model_fields_still_read():
    recipe = reverie.read_recipe('{"kind": "dream", "model": "efficientnet-lite0", "weights": null, '
                                 '"normalize": "imagenet"}')
    # layout, memory_format: such a recipe was made before both, so its model runs as it did
    assert recipe.model == reverie.ModelSpec("efficientnet-lite0", None, "imagenet", layout="nchw",
                                             memory_format="contiguous")


def test_a_recipe_from_a_file_never_runs_code_unless_the_caller_names_the_model(tmp_path, monkeypatch):
    sentinel = tmp_path / "imported"
    (tmp_path / "reverie_task_sentinel.py").write_text(
        f"import pathlib\npathlib.Path({str(sentinel)!r}).write_text('x')\n"
        "from torch import nn\ndef build():\n    return nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU())\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    text = reverie.DreamRecipe(source="noise", size=(32, 32), model="reverie_task_sentinel:build",
                               objective="layer(1)", settings=FRAME).to_json()
    recipe = reverie.read_recipe(text)
    with pytest.raises(ReverieError, match="could run code .* name it yourself"):
        reverie.run(recipe)
    assert not sentinel.exists()
    trusted = replace(recipe, model=reverie.ModelSpec("reverie_task_sentinel:build"))
    assert reverie.run(trusted).image.shape == (1, 3, 32, 32) and sentinel.exists()


def test_the_tracker_stops_after_the_recorded_steps_and_adds_an_eta():
    tracker = Tracker(stop_after=2)
    assert not tracker.is_set()
    tracker(Progress("s", 1, 4, 1, 4, 0.0))
    assert tracker.last.seconds_left is not None and not tracker.is_set()
    tracker(Progress("s", 2, 4, 2, 4, 0.0))
    assert tracker.is_set() and tracker.steps_done == 2
