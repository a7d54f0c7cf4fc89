"""DeepDream: it amplifies what it is asked to, reproducibly, within [0, 1], at the image's size."""
from __future__ import annotations

import dataclasses

import pytest
import torch
from torch import nn

import reverie
from reverie import DreamSettings, ReverieError, channel, deep_dream, layer, octave_sizes
from reverie.imaging import resize

# Small and quick, but enough to change the picture clearly.
QUICK = DreamSettings(octaves=2, steps=8, step_size=0.02, jitter=4, min_octave_size=32)


def settings(**changes) -> DreamSettings:
    return dataclasses.replace(QUICK, **changes)


def correlation(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(torch.corrcoef(torch.stack([a.flatten(), b.flatten()]))[0, 1])


def seam_ratio(change: torch.Tensor) -> float:
    """The largest mean jump across any one pixel column or row, relative to the median jump."""
    jumps_x = (change[..., :, 1:] - change[..., :, :-1]).abs().mean(dim=(0, 1, 2))
    jumps_y = (change[..., 1:, :] - change[..., :-1, :]).abs().mean(dim=(0, 1, 3))
    return max(float(jumps_x.max() / jumps_x.median()), float(jumps_y.max() / jumps_y.median()))


def test_dreaming_amplifies_the_target_layer(tiny_cnn, photo64, assert_objective_rises):
    objective = layer("features.relu3")
    dreamed = deep_dream(tiny_cnn, objective, photo64, QUICK, seed=0)
    assert_objective_rises(tiny_cnn, objective, photo64, dreamed, factor=1.5)


def test_dreaming_a_channel_amplifies_that_channel(tiny_cnn, photo64, assert_objective_rises):
    objective = channel("features.relu3", 3)
    dreamed = deep_dream(tiny_cnn, objective, photo64, QUICK, seed=0)
    assert_objective_rises(tiny_cnn, objective, photo64, dreamed, factor=1.3)


def test_embedded_model_channel_grows_many_fold(lite0, assert_objective_rises):
    photo = resize(reverie.sample("chelsea"), (96, 128))
    objective = channel("blocks.9", 7)
    dreamed = deep_dream(lite0, objective, photo, settings(octaves=2, steps=5, min_octave_size=48), seed=1)
    assert_objective_rises(lite0, objective, photo, dreamed, factor=4.0)


def test_mild_settings_keep_the_photo_recognisable(lite0, assert_objective_rises):
    photo = resize(reverie.sample("chelsea"), (96, 96))
    objective = layer("blocks.6")
    dreamed = deep_dream(lite0, objective, photo, settings(octaves=1, steps=3, step_size=0.01), seed=0)
    assert correlation(dreamed, photo) > 0.8
    assert (dreamed - photo).abs().mean() > 0.005  # ...and yet it did dream
    assert_objective_rises(lite0, objective, photo, dreamed, factor=1.2)


def test_same_seed_gives_identical_pixels(tiny_cnn, photo64):
    objective = layer("features.relu2")
    first = deep_dream(tiny_cnn, objective, photo64, QUICK, seed=7)
    second = deep_dream(tiny_cnn, objective, photo64, QUICK, seed=7)
    assert torch.equal(first, second)


def test_different_seeds_give_different_pixels(tiny_cnn, photo64):
    objective = layer("features.relu2")
    first = deep_dream(tiny_cnn, objective, photo64, QUICK, seed=7)
    other = deep_dream(tiny_cnn, objective, photo64, QUICK, seed=8)
    assert (first - other).abs().mean() > 1e-3


@pytest.mark.parametrize("height, width", [(64, 64), (40, 72), (33, 47)])
def test_output_is_in_range_and_the_size_of_the_input(tiny_cnn, photo64, height, width):
    photo = resize(photo64, (height, width))
    dreamed = deep_dream(tiny_cnn, layer("features.relu3"), photo, settings(step_size=0.2), seed=0)
    assert dreamed.shape == (1, 3, height, width)
    assert dreamed.dtype == torch.float32
    assert dreamed.min() >= 0 and dreamed.max() <= 1
    assert not dreamed.requires_grad


def test_the_input_image_is_left_untouched(tiny_cnn, photo64):
    before = photo64.clone()
    deep_dream(tiny_cnn, layer("features.relu3"), photo64, settings(octaves=1), seed=0)
    assert torch.equal(photo64, before)


def test_step_size_is_the_mean_pixel_change_per_step_on_any_scale(tiny_cnn, photo64):
    # Away from the [0, 1] bounds one step moves pixels by step_size on average, whatever the
    # raw gradient's scale: multiplying the objective by 1000 changes nothing.
    photo = 0.25 + 0.5 * photo64
    one_step = settings(octaves=1, steps=1, step_size=0.001)
    dreamed = deep_dream(tiny_cnn, layer("features.relu3"), photo, one_step, seed=0)
    assert (dreamed - photo).abs().mean() == pytest.approx(0.001, rel=0.02)
    scaled = deep_dream(tiny_cnn, 1000 * layer("features.relu3"), photo, one_step, seed=0)
    assert torch.allclose(scaled, dreamed, atol=1e-6)


def test_a_tile_covering_the_image_changes_nothing(tiny_cnn, photo64):
    objective = layer("features.relu3")
    untiled = deep_dream(tiny_cnn, objective, photo64, settings(tile=512), seed=3)
    assert torch.equal(deep_dream(tiny_cnn, objective, photo64, settings(tile=64), seed=3), untiled)


def test_tiles_are_stitched_exactly_for_a_model_without_spatial_context(photo64):
    # A per-pixel network gives every pixel the same gradient however the image is tiled and
    # shifted, so a tiled dream must match the untiled one: tiles are placed, weighted and
    # shifted back correctly.
    torch.manual_seed(0)
    pointwise = reverie.models.prepare_model(
        nn.Sequential(nn.Conv2d(3, 8, 1), nn.ReLU(), nn.Conv2d(8, 8, 1), nn.ReLU()))
    photo = resize(photo64, (80, 72))
    objective = layer("3") + channel("1", 2)
    untiled = deep_dream(pointwise, objective, photo, settings(tile=512), seed=0)
    tiled = deep_dream(pointwise, objective, photo, settings(tile=32), seed=0)  # 3 x 3 tiles
    assert (untiled - photo).abs().mean() > 0.01
    assert torch.allclose(tiled, untiled, atol=1e-4)


def test_a_tiled_dream_rises_like_an_untiled_one_without_seams(tiny_cnn, photo64, score):
    objective = layer("features.relu3")
    one_octave = settings(octaves=1, steps=10)
    untiled = deep_dream(tiny_cnn, objective, photo64, one_octave, seed=0)
    tiled = deep_dream(tiny_cnn, objective, photo64, dataclasses.replace(one_octave, tile=32), seed=0)
    start = score(tiny_cnn, objective, photo64)
    untiled_rise = score(tiny_cnn, objective, untiled) - start
    tiled_rise = score(tiny_cnn, objective, tiled) - start
    assert untiled_rise > 0 and tiled_rise >= 0.88 * untiled_rise
    assert seam_ratio(tiled - photo64) <= 1.2 * seam_ratio(untiled - photo64)


@pytest.mark.parametrize("height, width", [(500, 700), (64, 64), (100, 40), (31, 400), (1000, 1000)])
@pytest.mark.parametrize("octaves, scale, smallest", [(4, 1.4, 64), (6, 2.0, 32), (1, 1.4, 64), (3, 1.0, 16)])
def test_octaves_grow_to_the_image_size_and_never_fall_below_the_minimum(height, width, octaves, scale, smallest):
    sizes = octave_sizes(height, width, DreamSettings(octaves=octaves, octave_scale=scale, min_octave_size=smallest))
    assert sizes[-1] == (height, width)
    assert 1 <= len(sizes) <= octaves
    for size in sizes[:-1]:
        assert min(size) >= smallest
    assert sizes == sorted(sizes)


def test_octaves_shrink_by_the_octave_scale():
    assert octave_sizes(400, 600, DreamSettings(octaves=3, octave_scale=2.0, min_octave_size=16)) == [
        (100, 150), (200, 300), (400, 600)]


def test_the_network_never_sees_an_octave_below_the_minimum(tiny_cnn, photo64):
    seen = []
    tiny_cnn.register_forward_pre_hook(lambda module, inputs: seen.append(tuple(inputs[0].shape[-2:])))
    photo = resize(photo64, (30, 45))  # smaller than the minimum octave
    dreamed = deep_dream(tiny_cnn, layer("features.relu3"), photo, settings(octaves=3, min_octave_size=48), seed=0)
    assert seen and min(min(size) for size in seen) >= 48
    assert dreamed.shape == photo.shape


def test_an_image_smaller_than_the_minimum_octave_still_dreams(tiny_cnn, photo64, assert_objective_rises):
    photo = resize(photo64, (24, 20))
    objective = layer("features.relu3")
    dreamed = deep_dream(tiny_cnn, objective, photo, settings(min_octave_size=64), seed=0)
    assert dreamed.shape == (1, 3, 24, 20)
    assert (dreamed - photo).abs().mean() > 0.01
    assert_objective_rises(tiny_cnn, objective, photo, dreamed, factor=1.2)


def test_progress_reports_every_step_and_ends_at_one(tiny_cnn, photo64):
    events = []
    previews = []

    def progress(event):
        events.append(event)
        previews.append(event.preview())

    dreamed = deep_dream(tiny_cnn, layer("features.relu3"), photo64, settings(octaves=2, steps=3), seed=0,
                         progress=progress)
    assert len(events) == 2 * 3
    fractions = [event.fraction for event in events]
    assert all(a < b for a, b in zip(fractions, fractions[1:]))
    assert fractions[-1] == 1.0
    assert [(e.stage, e.step, e.steps) for e in events[:4]] == [
        ("octave 1/2", 1, 3), ("octave 1/2", 2, 3), ("octave 1/2", 3, 3), ("octave 2/2", 1, 3)]
    assert all(isinstance(event.score, float) for event in events)
    for preview in previews:
        assert preview.ndim == 4 and preview.shape[:2] == (1, 3)
        assert preview.min() >= 0 and preview.max() <= 1
    assert previews[0].shape[-2:] == octave_sizes(64, 64, QUICK)[0]
    assert torch.equal(previews[-1], dreamed)


def test_a_dream_from_noise_grows_structure(tiny_cnn, assert_objective_rises):
    quick = settings(step_size=0.05)
    first = reverie.dream("noise", model=tiny_cnn, objective="layer(features.relu3)", size=(48, 40),
                          settings=quick, seed=5, device="cpu")
    again = reverie.dream("noise", model=tiny_cnn, objective="layer(features.relu3)", size=(48, 40),
                          settings=quick, seed=5, device="cpu")
    other = reverie.dream("noise", model=tiny_cnn, objective="layer(features.relu3)", size=(48, 40),
                          settings=quick, seed=6, device="cpu")
    assert first.image.shape == (1, 3, 40, 48)
    assert first.recipe.source == "noise" and first.recipe.size == (48, 40)
    assert torch.equal(first.image, again.image)
    assert not torch.equal(first.image, other.image)
    start = reverie.imaging.noise((40, 48), reverie.randomness.generator(5, "noise"))
    assert_objective_rises(tiny_cnn, layer("features.relu3"), start, first.image, factor=2.0)


def test_one_image_at_a_time(tiny_cnn, photo32):
    with pytest.raises(ReverieError, match="one image at a time"):
        deep_dream(tiny_cnn, layer("features.relu3"), photo32.repeat(2, 1, 1, 1), QUICK)
    with pytest.raises(ReverieError, match=r"expected image as floats \[B, 3, H, W\]"):
        deep_dream(tiny_cnn, layer("features.relu3"), photo32[0], QUICK)


@pytest.mark.parametrize("changes, message", [
    ({"octaves": 0}, "octaves must be a whole number from 1 to 64, got 0"),
    ({"steps": -2}, "steps must be a whole number from 1 to 100000, got -2"),
    ({"steps": 2.5}, "steps must be a whole number from 1"),
    ({"steps": True}, "steps must be a whole number from 1"),
    ({"tile": 0}, "tile must be a whole number from 32 to 16384, got 0"),
    ({"tile": 16}, "tile must be a whole number from 32 to 16384, got 16"),
    ({"min_octave_size": 0}, "min-octave-size must be a whole number from 1"),
    ({"octave_scale": 0.5}, "octave-scale must be a finite number from 1 to 16"),
    ({"step_size": 0.0}, "step-size must be a finite number from 1e-09 to 10"),
    ({"step_size": float("nan")}, "step-size must be a finite number from 1e-09 to 10"),
    ({"jitter": -1}, "jitter must be a whole number from 0 to 4096, got -1"),
])
def test_bad_settings_are_refused_with_the_reason(changes, message):
    with pytest.raises(ReverieError, match=message):
        DreamSettings(**changes)
