"""A run behind the page: previews while it works, a stop that keeps the work, mistakes as one line."""
from __future__ import annotations

import numpy as np
import torch

from reverie.engine.deepdream import DreamSettings
from reverie.pipelines.dream import DreamRecipe
from reverie.studio.runs import Run, preview_array

LONG = DreamSettings(octaves=1, steps=100_000, step_size=0.01, jitter=2, min_octave_size=16)


def test_a_preview_is_downscaled_to_its_long_side_as_uint8():
    array = preview_array(torch.rand(2, 4, 300, 150), side=100)
    assert array.shape == (100, 50, 3) and array.dtype == np.uint8


def test_a_run_streams_previews_and_stop_keeps_the_work(tiny_cnn):
    recipe = DreamRecipe(source="noise", size=(32, 32), objective="layer(features.relu3)", settings=LONG)
    run = Run(recipe, model=tiny_cnn, device="cpu", preview_seconds=0.0)
    previews = []
    for snapshot in run.snapshots(interval=0.02):
        if snapshot.preview is not None:
            previews.append(snapshot.preview)
        if len(previews) >= 2 and not run.stopping:
            run.stop()
    assert run.error is None and run.result.stopped
    assert len(previews) >= 2 and previews[0].shape == (32, 32, 3)
    assert run.result.recipe.stopped_at is not None and run.result.recipe.stopped_at.after >= 2
    assert run.first_preview_at is not None and run.steps_seen == run.result.recipe.stopped_at.after
    assert not np.array_equal(previews[0], previews[-1])   # the dream moved between previews


def test_a_mistake_ends_the_run_with_its_one_line_and_no_result(tiny_cnn):
    recipe = DreamRecipe(source="noise", size=(32, 32), objective="layer(features.relu9)", settings=LONG)
    run = Run(recipe, model=tiny_cnn, device="cpu")
    snapshots = list(run.snapshots(interval=0.02))
    assert snapshots[-1].done and run.result is None
    assert run.error.startswith("unknown layer 'features.relu9'") and "\n" not in run.error
