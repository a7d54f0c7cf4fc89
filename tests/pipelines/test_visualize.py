"""Feature visualization through the Python API: the render loop, parameterizations, recipes and pipelines."""
from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

import reverie
from reverie.engine.optimize import RenderSettings, render
from reverie.imaging import resize
from reverie.objectives import parse_objective
from reverie.optim import ClampSGD
from reverie.params import make_param
from reverie.pipelines.interpolate import interpolate
from reverie.pipelines.visualize import visualize
from reverie.randomness import generator
from reverie import InterpolateRecipe, VisualizeRecipe
from reverie.recorder import ActivationRecorder
from reverie.robustness import transforms_by_name

TINY_LAYER = "features.relu3"  # tiny_cnn's deepest ReLU: 24 channels at half the image size


def channel_means(model, layer: str, images: torch.Tensor) -> torch.Tensor:
    """Mean of every channel of ``layer`` over its map, [B, C], on ``images`` as they are (no transforms)."""
    with torch.no_grad(), ActivationRecorder(model, [layer]) as recorder:
        return recorder(images[:, :3])[layer].mean(dim=(2, 3))


def high_frequency_fraction(image: torch.Tensor) -> float:
    """Share of the grey image's spectral power (DC removed) above half the Nyquist frequency (0.25 cycles/px)."""
    grey = image[:, :3].mean(dim=1)  # [B, H, W]
    grey = grey - grey.mean(dim=(-2, -1), keepdim=True)
    power = torch.fft.fft2(grey).abs() ** 2
    height, width = grey.shape[-2:]
    frequency = torch.sqrt(torch.fft.fftfreq(height)[:, None] ** 2 + torch.fft.fftfreq(width)[None, :] ** 2)
    return float(power[..., frequency > 0.25].sum() / power.sum())


def correlation(a: torch.Tensor, b: torch.Tensor) -> float:
    a, b = a.flatten().double(), b.flatten().double()
    a, b = a - a.mean(), b - b.mean()
    return float((a * b).sum() / (a.norm() * b.norm()))


# --- the promise: an image the unit likes more than any photo ---------------------------------------

def test_visualization_beats_every_bundled_photo(lite0):
    layer, channel = "blocks.6", 42  # the blocks.6 channel the bundled photos drive hardest
    best_photo = -float("inf")
    for name in ("chelsea", "coffee", "astronaut", "rocket"):
        photo = reverie.sample(name)
        height, width = photo.shape[-2:]
        scale = 224 / min(height, width)
        photo = resize(photo, (round(height * scale), round(width * scale)))
        best_photo = max(best_photo, float(channel_means(lite0, layer, photo)[0, channel]))
    assert best_photo > 5, "the comparison means little unless the photos excite the channel"

    recipe = VisualizeRecipe(objective=f"channel({layer}, {channel})", size=(96, 96),
                             settings=RenderSettings(steps=64))
    result = visualize(recipe, model=lite0)
    assert result.images.shape == (1, 3, 96, 96)
    visualized = float(channel_means(lite0, layer, result.images)[0, channel])
    # Measured: about 36 for the visualization against 11.5 for the best photo.
    assert visualized > 2 * best_photo, f"visualization {visualized:.3g} vs best photo {best_photo:.3g}"


# --- determinism ------------------------------------------------------------------------------------

@pytest.mark.parametrize("param", ["fft", "cppn"])
def test_the_same_seed_gives_the_same_pixels_and_another_seed_other_pixels(tiny_cnn, param):
    def run(seed: int) -> torch.Tensor:
        lr = 0.005 if param == "cppn" else 0.05
        # A neuron, not a channel: this random network's channels want one flat colour, which saturates
        # a CPPN into the same picture whatever the seed.
        recipe = VisualizeRecipe(objective=f"neuron({TINY_LAYER}, 5)", param=param, size=(48, 48), seed=seed,
                                 settings=RenderSettings(steps=12, lr=lr))
        return visualize(recipe, model=tiny_cnn).images

    first = run(3)
    assert torch.equal(first, run(3))
    other = run(4)
    assert not torch.equal(first, other)
    assert float((first - other).abs().mean()) > 1e-3


# --- what the FFT parameterization and the transforms buy ------------------------------------------

@pytest.mark.parametrize("model_name, objective, fft_lr", [
    ("tiny_cnn", f"channel({TINY_LAYER}, 5)", 0.2),
    ("lite0", "channel(blocks.9, 3)", 0.05),
])
def test_fft_with_transforms_has_far_less_high_frequency_power_than_plain_pixels(request, model_name, objective,
                                                                                  fft_lr):
    # Measured (64 px, 64 steps), fraction of grey spectral power above half Nyquist:
    #   tiny_cnn: fft+decorrelated+standard (lr 0.2) ~0.15, pixels (lr 0.05, no transforms) ~0.92
    #             (objective 0.057 -> ~0.08 and 0.057 -> ~0.11);
    #   lite0 blocks.9: fft (lr 0.05) ~0.13, pixels (lr 0.05) ~0.54 (objective -3.7 -> 18 and -2.9 -> 48).
    # A natural photo has ~0.08.
    model = request.getfixturevalue(model_name)
    results = {}
    for param, decorrelate, transforms, lr in [("fft", True, "standard", fft_lr), ("pixel", False, "none", 0.05)]:
        recipe = VisualizeRecipe(objective=objective, param=param, decorrelate=decorrelate, transforms=transforms,
                                 size=(64, 64), settings=RenderSettings(steps=64, lr=lr))
        result = visualize(recipe, model=model)
        before = float(parse_objective(objective)(_activations(model, objective, torch.full_like(result.images, 0.5))))
        after = float(parse_objective(objective)(_activations(model, objective, result.images)))
        assert after > before + 0.2 * abs(before) + 1e-3, f"{param} did not optimise: {before:.3g} -> {after:.3g}"
        results[param] = high_frequency_fraction(result.images)
    assert results["fft"] < 0.25, results
    assert results["pixel"] > 0.45, results
    assert results["fft"] < results["pixel"] / 3, results


def _activations(model, objective: str, image: torch.Tensor):
    with torch.no_grad(), ActivationRecorder(model, parse_objective(objective).layers) as recorder:
        return recorder(image)


# --- CPPN -------------------------------------------------------------------------------------------

def test_an_optimised_cppn_renders_at_twice_the_resolution(tiny_cnn):
    param = make_param("cppn", 32, 40, generator=generator(0, "param"))
    # A neuron gives the picture spatial structure (this random network's channels want one flat colour).
    objective = parse_objective(f"neuron({TINY_LAYER}, 11)")
    rendering = render(tiny_cnn, objective, param, transforms_by_name("none"),
                       RenderSettings(steps=48, lr=0.005), seed=0)
    image = rendering.image
    assert image.shape == (1, 3, 32, 40)
    assert float(image.std(dim=(2, 3)).mean()) > 0.1, "the optimised CPPN should have spatial structure"
    assert rendering.history[-1] > rendering.history[0]
    with torch.no_grad():
        large = param.render(64, 80)
    assert large.shape == (1, 3, 64, 80)
    upscaled = F.interpolate(image, size=(64, 80), mode="bilinear", align_corners=False)
    assert correlation(large, upscaled) > 0.9
    assert float((large - upscaled).abs().max()) > 1e-3  # re-rendered, not resized


# --- transparency -----------------------------------------------------------------------------------

def test_alpha_gives_an_rgba_png_with_a_varying_alpha_channel(tiny_cnn, tmp_path):
    recipe = VisualizeRecipe(objective=f"channel({TINY_LAYER}, 5)", alpha=True, size=(48, 48),
                             settings=RenderSettings(steps=32))
    result = visualize(recipe, model=tiny_cnn)
    assert result.images.shape == (1, 4, 48, 48)
    path = result.save(tmp_path / "x.png")
    with Image.open(path) as picture:
        assert picture.mode == "RGBA"
        alpha = np.asarray(picture)[..., 3]
    assert alpha.min() < 250 and alpha.max() > alpha.min(), "alpha should vary"
    assert alpha.mean() / 255 < 0.95
    assert float(result.images[:, 3].std()) > 0.005
    assert result.history[-1] > result.history[0]


# --- interpolation ----------------------------------------------------------------------------------

def test_interpolation_frames_change_smoothly(lite0):
    recipe = InterpolateRecipe(start="channel(blocks.6, 1)", end="channel(blocks.6, 2)", frames=5,
                               size=(48, 48), settings=RenderSettings(steps=40))
    result = interpolate(recipe, model=lite0)
    frames = result.images
    assert frames.shape == (5, 3, 48, 48)
    assert result.labels == ["0", "1", "2", "3", "4"]

    def distance(i: int, j: int) -> float:
        return float((frames[i] - frames[j]).abs().mean())

    ends = distance(0, 4)
    neighbours = [distance(i, i + 1) for i in range(4)]
    # Measured: neighbours 0.075-0.078, ends 0.092 (frames rendered independently: 0.10-0.13 apart).
    assert all(step < ends for step in neighbours), (neighbours, ends)
    # Frames drift away from the first one as t grows.
    assert distance(0, 1) < distance(0, 2) < distance(0, 3) < distance(0, 4)
    # The objective moves from the start channel to the end channel.
    means = channel_means(lite0, "blocks.6", frames)
    lean = (means[:, 1] - means[:, 2]).tolist()
    assert all(a > b for a, b in zip(lean, lean[1:])), lean


# --- the render loop --------------------------------------------------------------------------------

def test_history_rises_and_thresholds_keep_intermediate_images(tiny_cnn):
    param = make_param("fft", 48, 48, generator=generator(0, "param"))
    rendering = render(tiny_cnn, parse_objective(f"channel({TINY_LAYER}, 5)"), param, transforms_by_name("standard"),
                       RenderSettings(steps=10, thresholds=(5, 10), lr=0.1), seed=0)
    assert sorted(rendering.images) == [5, 10]
    assert len(rendering.history) == 10
    assert rendering.history[-1] > rendering.history[0]
    assert not torch.equal(rendering.images[5], rendering.images[10])
    assert torch.equal(rendering.image, rendering.images[10])
    assert torch.equal(rendering.image, param().detach())  # the final image is the param's last state


@pytest.mark.parametrize("transforms", ["standard", "none"])
def test_the_model_sees_the_size_that_was_asked_for(tiny_cnn, transforms):
    # The standard set grows 40x56 to 52x68 (pad 12, jitter 8 and 4); the loop crops the centre back.
    seen = []
    tiny_cnn.register_forward_pre_hook(lambda module, inputs: seen.append(tuple(inputs[0].shape)))
    param = make_param("fft", 40, 56, batch=2, generator=generator(0, "param"))
    render(tiny_cnn, parse_objective(f"channel({TINY_LAYER}, 5)"), param, transforms_by_name(transforms),
           RenderSettings(steps=3, redirect_steps=1), seed=0)
    assert seen == [(2, 3, 40, 56)] * 3


def test_a_large_canvas_is_seen_through_views_uncropped(tiny_cnn):
    from reverie.robustness import canvas_views

    seen = []
    tiny_cnn.register_forward_pre_hook(lambda module, inputs: seen.append(tuple(inputs[0].shape)))
    param = make_param("fft", 48, 96, generator=generator(0, "param"))
    render(tiny_cnn, parse_objective(f"channel({TINY_LAYER}, 5)"), param,
           canvas_views(48, 96, 32) + transforms_by_name("standard"), RenderSettings(steps=3, redirect_steps=1), seed=0)
    assert seen == [(1, 3, 28, 44)] * 3  # the view's 16x32, padded and jittered (see render)


def test_a_recipe_from_before_the_crop_replays_uncropped_and_a_new_one_crops(tiny_cnn):
    seen = []
    tiny_cnn.register_forward_pre_hook(lambda module, inputs: seen.append(tuple(inputs[0].shape[-2:])))
    new = VisualizeRecipe(objective=f"channel({TINY_LAYER}, 5)", size=(56, 40), seed=2,
                          settings=RenderSettings(steps=3, redirect_steps=1))
    assert '"crop": true' in new.to_json()  # new recipes store it
    data = json.loads(new.to_json())
    del data["settings"]["crop"]  # as a file written before the field existed
    old = VisualizeRecipe.from_json(json.dumps(data))
    assert old.settings.crop is False

    old_pixels = visualize(old, model=tiny_cnn).images
    assert seen[-3:] == [(52, 68)] * 3  # the whole padded image, as then (before: the objective's check)
    uncropped = visualize(replace(new, settings=replace(new.settings, crop=False)), model=tiny_cnn).images
    assert torch.equal(old_pixels, uncropped)  # the old pixels
    cropped = visualize(new, model=tiny_cnn).images
    assert seen[-3:] == [(40, 56)] * 3
    assert not torch.equal(cropped, old_pixels)


def test_a_recipe_from_before_the_one_resample_crop_replays_step_by_step(tiny_cnn):
    new = VisualizeRecipe(objective=f"channel({TINY_LAYER}, 5)", size=(40, 40), seed=2,
                          settings=RenderSettings(steps=4, redirect_steps=1))
    assert '"resample_once": true' in new.to_json()
    data = json.loads(new.to_json())
    del data["settings"]["resample_once"]  # written when crop existed and this did not
    old = VisualizeRecipe.from_json(json.dumps(data))
    assert old.settings.resample_once is False and old.settings.crop is True
    step_by_step = visualize(replace(new, settings=replace(new.settings, resample_once=False)), model=tiny_cnn).images
    assert torch.equal(visualize(old, model=tiny_cnn).images, step_by_step)
    fused = visualize(new, model=tiny_cnn).images
    assert fused.shape == step_by_step.shape
    assert torch.allclose(fused, step_by_step, atol=0.05)  # the same views; rounding apart after 4 steps


@pytest.mark.parametrize("dtype", [torch.float32, torch.complex64])
def test_adam_matches_torch_adam_bit_for_bit(dtype):
    # Reverie's Adam replaced torch.optim.Adam (its first call imports torch._dynamo: seconds); renders
    # made before keep their pixels only while the two agree exactly.
    from reverie.optim import Adam
    source = torch.Generator().manual_seed(0)
    ours = [torch.nn.Parameter(torch.randn(2, 3, 5, 4, generator=source).to(dtype)) for _ in range(2)]
    theirs = [torch.nn.Parameter(p.detach().clone()) for p in ours]
    mine, reference = Adam(ours, lr=0.05), torch.optim.Adam(theirs, lr=0.05)
    for step in range(40):
        grads = [torch.randn(p.shape, generator=source).to(dtype) * 10 ** (step % 5 - 2) for p in ours]
        for optimizer, parameters in ((mine, ours), (reference, theirs)):
            optimizer.zero_grad(set_to_none=True)
            for parameter, grad in zip(parameters, grads):
                parameter.grad = grad.clone() if step != 3 or parameter is not parameters[1] else None
            optimizer.step()
    for a, b in zip(ours, theirs):
        assert torch.equal(a, b)


def test_adam_runs_torch_global_step_hooks_with_torch_shaped_state():
    # Profilers and benchmarks (peers_bench.py's step clock) watch every optimizer through torch's
    # global hooks and read ``state[param]["step"]``; Reverie's Adam must be visible to them.
    from torch.optim.optimizer import register_optimizer_step_post_hook, register_optimizer_step_pre_hook

    from reverie.optim import Adam
    parameter = torch.nn.Parameter(torch.zeros(3))
    adam = Adam([parameter], lr=0.1)
    seen = []
    handles = [register_optimizer_step_pre_hook(lambda opt, *_: seen.append(("pre", opt.state.get(parameter, {}).get("step")))),
               register_optimizer_step_post_hook(lambda opt, *_: seen.append(("post", int(opt.state[parameter]["step"]))))]
    try:
        for _ in range(2):
            parameter.grad = torch.ones(3)
            adam.step()
    finally:
        for handle in handles:
            handle.remove()
    assert seen == [("pre", None), ("post", 1), ("pre", 1), ("post", 2)]
    assert torch.equal(adam.state[parameter]["exp_avg"], torch.full((3,), 0.19))


def test_clampsgd_steps_by_exactly_lr_times_the_sign_of_the_gradient():
    start = torch.tensor([[0.5, -1.0, 2.0, 0.0, 3.0]])
    parameter = torch.nn.Parameter(start.clone())
    parameter.grad = torch.tensor([[1e-20, -7.0, 0.0, 3e5, -1e-12]])
    ClampSGD([parameter], lr=0.25).step()
    assert parameter.detach().tolist() == [[0.25, -0.75, 2.0, -0.25, 3.25]]
    # Scale-free: a gradient a billion times larger moves the parameter exactly as far.
    big = torch.nn.Parameter(start.clone())
    big.grad = torch.tensor([[1e-20, -7.0, 0.0, 3e5, -1e-12]]) * 1e9
    ClampSGD([big], lr=0.25).step()
    assert torch.equal(big.detach(), parameter.detach())


def test_clampsgd_optimises_in_render(tiny_cnn):
    objective = parse_objective(f"neuron({TINY_LAYER}, 5)")
    param = make_param("fft", 48, 48, generator=generator(0, "param"))
    start = param().detach()
    rendering = render(tiny_cnn, objective, param, transforms_by_name("none"),
                       RenderSettings(steps=24, lr=0.05, optimizer="clampsgd"), seed=0)
    before = float(objective(_activations(tiny_cnn, objective.expression(), start)))
    after = float(objective(_activations(tiny_cnn, objective.expression(), rendering.image)))
    assert after > 2 * before > 0, (before, after)  # measured: 0.056 -> 0.28
    assert rendering.history[-1] > rendering.history[0]


# --- batches ----------------------------------------------------------------------------------------

def test_each_batch_item_pursues_its_own_channel(lite0):
    # On the trained network: the random tiny_cnn's channels all want much the same flat colour.
    recipe = VisualizeRecipe(objective="channel(blocks.6, 1, batch=0) + channel(blocks.6, 2, batch=1)",
                             batch=2, size=(48, 48), settings=RenderSettings(steps=32))
    result = visualize(recipe, model=lite0)
    assert result.images.shape == (2, 3, 48, 48)
    assert result.labels == ["0", "1"]
    means = channel_means(lite0, "blocks.6", result.images)
    # Measured: channel 1 is 17 on image 0 and -5 on image 1; channel 2 is -16 and 24.
    assert means[0, 1] > means[1, 1] + 5, means[:, [1, 2]]
    assert means[1, 2] > means[0, 2] + 5, means[:, [1, 2]]


def test_a_channel_sheet_renders_one_image_per_channel_in_order(lite0):
    channels = (0, 1, 2, 3)
    recipe = VisualizeRecipe(layer="blocks.6", channels=channels, size=(32, 32), settings=RenderSettings(steps=24))
    result = visualize(recipe, model=lite0)
    assert result.images.shape == (4, 3, 32, 32)
    assert result.labels == ["0", "1", "2", "3"]
    means = channel_means(lite0, "blocks.6", result.images)[:, list(channels)]  # [image, channel]
    # Each channel scores highest on its own image: the sheet's cells are not shuffled or shared.
    assert means.argmax(dim=0).tolist() == [0, 1, 2, 3], means
    assert result.picture().size == (2 * 32 + 4, 2 * 32 + 4)  # a 2 x 2 contact sheet with 4 px gaps


def test_a_big_sheet_renders_at_the_measured_batch_and_its_recipe_keeps_the_number(tiny_cnn, monkeypatch):
    import reverie.pipelines.visualize as pipeline
    measured = []
    monkeypatch.setattr(pipeline, "MEASURE_FROM", 1)  # any sheet is big enough to measure
    monkeypatch.setattr(pipeline, "measured_batch", lambda *args: measured.append(args) or 3)
    recipe = VisualizeRecipe(layer=TINY_LAYER, channels=(0, 1, 2, 3, 4), size=(24, 24),
                             settings=RenderSettings(steps=3, redirect_steps=1))
    first = visualize(recipe, model=tiny_cnn)
    assert len(measured) == 1 and first.recipe.sheet_batch == 3
    passes = []
    monkeypatch.setattr(pipeline, "render", lambda model, term, param, *a, **k: passes.append(param.batch) or
                        render(model, term, param, *a, **k))
    again = visualize(VisualizeRecipe.from_json(first.recipe.to_json()), model=tiny_cnn)
    assert passes == [3, 2] and len(measured) == 1  # the stored number is used, not measured again
    assert torch.equal(again.images, first.images)
    data = json.loads(first.recipe.to_json())
    del data["sheet_batch"]  # a sheet made before the field: 8 channels at a time, as then
    passes.clear()
    visualize(VisualizeRecipe.from_json(json.dumps(data)), model=tiny_cnn)
    assert passes == [5]


def test_measured_batch_is_a_candidate_within_the_limit_and_measured_once(tiny_cnn, monkeypatch):
    from reverie.engine import batch_size
    calls = []
    measure = batch_size._measure
    monkeypatch.setattr(batch_size, "_measure", lambda *args: calls.append(args) or measure(*args))
    chosen = batch_size.measured_batch(tiny_cnn, [TINY_LAYER], 16, 16, limit=4)
    assert chosen in (1, 2, 4)
    assert batch_size.measured_batch(tiny_cnn, [TINY_LAYER], 16, 16, limit=4) == chosen and len(calls) == 1
    assert batch_size.measured_batch(tiny_cnn, [TINY_LAYER], 16, 16, limit=1) == 1


# --- redirected ReLUs -------------------------------------------------------------------------------

@pytest.mark.parametrize("param_name", ["pixel", "fft"])
def test_redirect_steps_bring_a_dead_channel_to_life(dead_channel_cnn, param_name):
    model, channel = dead_channel_cnn
    objective = parse_objective(f"channel({TINY_LAYER}, {channel})")

    def run(redirect_steps: int):
        param = make_param(param_name, 32, 32, generator=generator(0, "param"))
        start = param().detach()
        rendering = render(model, objective, param, (), RenderSettings(steps=32, redirect_steps=redirect_steps),
                           seed=0)
        return start, rendering

    start, plain = run(0)
    assert max(plain.history) == 0.0
    assert torch.equal(plain.image, start), "with no redirection a dead channel passes no gradient"
    assert float(plain.image.std()) < 0.01  # near-uniform grey

    redirected_start, redirected = run(16)
    assert float(redirected.image.std()) > 0.05, "the redirected image should have structure, not stay grey"
    # The redirected gradient pushes the unit towards its active range. (This random network barely
    # responds to its input, so 16 steps do not close the whole 0.1 gap: measured about -0.1 -> -0.07.)
    assert _preactivation_peak(model, channel, redirected.image) > _preactivation_peak(model, channel, start) + 0.015


def _preactivation_peak(model, channel: int, image: torch.Tensor) -> float:
    with torch.no_grad(), ActivationRecorder(model, ["features.conv3"]) as recorder:
        return float(recorder(image)["features.conv3"][0, channel].max())


# --- composition at any size ------------------------------------------------------------------------

def low_frequency_share(image: torch.Tensor, cycles: float = 4.0) -> float:
    """Share of the grey image's spectral power (mean removed) below ``cycles`` per image: large-scale structure."""
    grey = image[:, :3].mean(dim=1).double()
    grey = grey - grey.mean(dim=(-2, -1), keepdim=True)
    power = torch.fft.fft2(grey).abs() ** 2
    height, width = grey.shape[-2:]
    long_side = max(height, width)  # cycles counted along the long side
    radius = torch.sqrt((torch.fft.fftfreq(height)[:, None] * long_side) ** 2
                        + (torch.fft.fftfreq(width)[None, :] * long_side) ** 2)
    return float(power[..., radius < cycles].sum() / power.sum())


def test_a_large_visualization_seen_through_views_has_more_large_scale_structure(lite0):
    # A canvas three views long: seen whole at full size (as before views and the crop back, the old
    # defaults), the channel's motif repeats as wallpaper.
    recipe = VisualizeRecipe(objective="channel(blocks.9, 7)", size=(384, 256), view=128,
                             settings=RenderSettings(steps=32))
    with_views = reverie.run(recipe, model=lite0).images
    whole = reverie.run(replace(recipe, view=0, settings=replace(recipe.settings, crop=False)), model=lite0).images
    assert with_views.shape == whole.shape == (1, 3, 256, 384)
    assert low_frequency_share(with_views) > 2 * low_frequency_share(whole)


def test_a_recipe_written_before_views_and_cppn_norm_replays_the_old_way():
    old = VisualizeRecipe.from_json('{"objective": "channel(blocks.3, 5)", "size": [1024, 576], "param": "cppn"}')
    assert old.view == 0 and VisualizeRecipe().view == 384
    assert old.cppn_norm is False and VisualizeRecipe().cppn_norm is True
