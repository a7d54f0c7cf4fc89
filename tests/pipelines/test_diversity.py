"""Diversity batches: counted on the first part of the steps (``diversity_steps``), then each image sharpens."""
from __future__ import annotations

from dataclasses import replace

import itertools
import threading

import torch
import torch.nn.functional as F

from reverie import VisualizeRecipe
from reverie.engine.optimize import RenderSettings, render
from reverie.engine.phased import render_phased
from reverie.objectives import channel, diversity, parse_objective, without_diversity
from reverie.params import make_param
from reverie.pipelines.visualize import visualize
from reverie.randomness import generator
from reverie.recorder import ActivationRecorder
from reverie.robustness import transforms_by_name

TINY = "features.relu3"
TINY_DIVERSE = f"channel({TINY}, 5) + 300*diversity({TINY})"


def tiny_recipe(**changes) -> VisualizeRecipe:
    return VisualizeRecipe(objective=TINY_DIVERSE, batch=3, size=(24, 24), settings=RenderSettings(steps=8, lr=0.2),
                           **changes)


def test_without_diversity_keeps_the_other_terms_and_is_none_without_any():
    assert without_diversity(parse_objective(TINY_DIVERSE)) == channel(TINY, 5)
    mixed = parse_objective(f"channel({TINY}, 5) - 0.5*channel({TINY}, 2) + 30*diversity({TINY})")
    assert without_diversity(mixed) == parse_objective(f"channel({TINY}, 5) - 0.5*channel({TINY}, 2)")
    assert without_diversity(channel(TINY, 5)) is None     # nothing to take out: one phase
    assert without_diversity(3 * diversity(TINY)) is None  # nothing would be left: diversity throughout


def test_a_phased_render_continues_the_first_phase_with_the_second_objective(tiny_cnn):
    def param():
        return make_param("fft", 24, 24, batch=2, generator=generator(0, "param", 0))

    first, then = channel(TINY, 5) + 100 * diversity(TINY), channel(TINY, 5)
    settings = RenderSettings(steps=6, lr=0.2, thresholds=(2, 5))
    transforms = transforms_by_name("standard")
    phased = render_phased(tiny_cnn, first, then, 3, param(), transforms, settings)
    alone = render(tiny_cnn, first, param(), transforms, replace(settings, steps=3, thresholds=(2,)))
    assert phased.history[:3] == alone.history          # the first phase is the plain render of its steps
    assert len(phased.history) == 6 and sorted(phased.images) == [2, 5, 6]
    assert torch.equal(phased.images[2], alone.images[2])
    steps = []
    render_phased(tiny_cnn, first, then, 3, param(), transforms, settings, progress=lambda e: steps.append(
        (e.step, e.steps, e.fraction)))
    assert [s for s, _, _ in steps] == [1, 2, 3, 4, 5, 6] and {t for _, t, _ in steps} == {6}
    assert steps[-1][2] == 1.0


def test_an_older_recipe_without_the_field_keeps_diversity_on_every_step(tiny_cnn):
    old = VisualizeRecipe.from_json(tiny_recipe().to_json().replace('"diversity_steps": 0.5, ', ""))
    assert old.diversity_steps == 1.0 and tiny_recipe().diversity_steps == 0.5
    replayed = visualize(old, model=tiny_cnn, device="cpu").images
    objective = parse_objective(TINY_DIVERSE)
    param = make_param("fft", 24, 24, batch=3, generator=generator(0, "param", 0))  # as the pipeline makes it
    by_hand = render(tiny_cnn, objective, param, transforms_by_name("standard"), old.settings, 0).image
    assert torch.equal(replayed, by_hand)
    assert not torch.equal(visualize(tiny_recipe(), model=tiny_cnn, device="cpu").images, replayed)


def strength_and_spread(model, images: torch.Tensor) -> tuple[torch.Tensor, float]:
    """Each image's channel-5 activation, and the batch's mean pairwise difference of 8x8 downscaled pixels."""
    with torch.no_grad(), ActivationRecorder(model, [TINY]) as recorder:
        strength = recorder(images)[TINY][:, 5].mean(dim=(1, 2))
    small = F.interpolate(images, size=(8, 8), mode="area")
    pairs = list(itertools.combinations(range(images.shape[0]), 2))
    return strength, sum(float((small[i] - small[j]).abs().mean()) for i, j in pairs) / len(pairs)


def test_a_diversity_batch_differs_more_than_a_plain_one_and_keeps_each_image_strong(tiny_cnn):
    # Measured: spread 0.117 plain, 0.166 diverse; each diverse image at >= 0.90 of the plain mean (with
    # diversity on every step the weakest falls to 0.76 at weight 300; bench/diversity.py on EfficientNet-Lite0).
    def batch(objective: str):
        recipe = VisualizeRecipe(objective=objective, batch=4, size=(32, 32), settings=RenderSettings(steps=32, lr=0.1))
        return strength_and_spread(tiny_cnn, visualize(recipe, model=tiny_cnn, device="cpu").images)

    plain_strength, plain_spread = batch(f"channel({TINY}, 5)")
    strength, spread = batch(TINY_DIVERSE)
    assert spread > 1.2 * plain_spread
    assert bool((strength >= 0.8 * plain_strength.mean()).all())


def test_a_stop_at_the_end_of_the_diversity_phase_keeps_that_step(tiny_cnn):
    stop = threading.Event()

    def progress(event) -> None:
        if event.step == 4:  # of 8: the last step with diversity
            stop.set()

    result = visualize(tiny_recipe(), model=tiny_cnn, device="cpu", progress=progress, stop=stop)
    assert result.stopped and len(result.history) == 4
    assert result.recipe.stopped_at.after == 4
    replayed = visualize(VisualizeRecipe.from_json(result.recipe.to_json()), model=tiny_cnn, device="cpu")
    assert torch.equal(replayed.images, result.images)
