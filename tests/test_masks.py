"""Masked and blended dreams: ramps, masked objectives, masked updates, blends, and their flags and recipes."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

import reverie
from reverie.engine.deepdream import DreamSettings, deep_dream
from reverie.imaging import resize
from reverie.io.images import read_recipe_text
from reverie.masks import mask_from_pil, ramp_masks
from reverie.objectives import channel, layer, masked, neuron, parse_blend
from reverie.pipelines.visualize import visualize
from reverie import VisualizeRecipe
from reverie.engine.optimize import RenderSettings
from reverie.recorder import ActivationRecorder

TINY_LAYER = "features.relu3"  # tiny_cnn's deepest ReLU: 24 channels at half the image size
# Channels 3 and 9 of the seeded tiny_cnn both respond to the chelsea photo, so each can be raised.
LEFT, RIGHT = 3, 9
QUICK = ["--octaves", "1", "--steps", "2", "--quiet"]


def left_half_mask(height: int, width: int) -> torch.Tensor:
    mask = torch.zeros(1, 1, height, width)
    mask[..., : width // 2] = 1
    return mask


def half_means(model, image: torch.Tensor, index: int) -> tuple[float, float]:
    """Channel ``index``'s mean activation over the left and the right half of tiny_cnn's map."""
    with torch.no_grad(), ActivationRecorder(model, [TINY_LAYER]) as recorder:
        activation = recorder(image[:, :3])[TINY_LAYER][0, index]  # [h, w]
    half = activation.shape[-1] // 2
    return float(activation[:, :half].mean()), float(activation[:, half:].mean())


# --- ramps -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("direction", ["horizontal", "vertical", "radial"])
@pytest.mark.parametrize("count", [2, 3])
def test_ramp_masks_sum_to_one_and_are_monotone(direction, count):
    masks = ramp_masks(count, 24, 40, direction)
    assert masks.shape == (count, 1, 24, 40)
    assert torch.allclose(masks.sum(dim=0), torch.ones(1, 24, 40), atol=1e-6)
    assert masks.min() >= 0 and masks.max() <= 1
    # Along the ramp the first band only falls and the last only rises, from all to nothing.
    if direction == "horizontal":
        first, last = masks[0, 0, 0], masks[-1, 0, 0]
    elif direction == "vertical":
        first, last = masks[0, 0, :, 0], masks[-1, 0, :, 0]
    else:  # from the centre outwards along the middle row
        first, last = masks[0, 0, 12, 20:], masks[-1, 0, 12, 20:]
    assert (first[1:] <= first[:-1]).all() and (last[1:] >= last[:-1]).all()
    assert first[0] == 1 and first[-1] == 0 and last[0] == 0 and last[-1] == 1


def test_a_hard_ramp_splits_the_image_into_equal_bands():
    masks = ramp_masks(2, 4, 8, softness=0)
    assert torch.equal(masks[0], left_half_mask(4, 8)[0])


def test_an_unknown_ramp_names_the_valid_ones():
    with pytest.raises(reverie.ReverieError, match="unknown blend ramp 'diagonal'"):
        ramp_masks(2, 8, 8, "diagonal")


# --- masked objectives -----------------------------------------------------------------------------

@pytest.mark.parametrize("objective", [channel(TINY_LAYER, 3), layer(TINY_LAYER), neuron(TINY_LAYER, 5)],
                         ids=["channel", "layer", "neuron"])
def test_a_full_mask_equals_the_unmasked_objective(tiny_cnn, photo64, score, objective):
    full = masked(objective, torch.ones(1, 1, 64, 64))
    assert score(tiny_cnn, full, photo64) == score(tiny_cnn, objective, photo64)
    # ...and a mask that hides part of the map changes it.
    assert score(tiny_cnn, objective.masked(left_half_mask(64, 64)), photo64) != score(tiny_cnn, objective, photo64)


def test_a_masked_channel_is_its_mean_over_the_mask_times_the_masks_share(tiny_cnn, photo64, score):
    objective = channel(TINY_LAYER, LEFT)
    left, _ = half_means(tiny_cnn, photo64, LEFT)
    # Drawn at the map's own size (32x32 for a 64 px image), the mask is used without resampling.
    assert score(tiny_cnn, objective.masked(left_half_mask(32, 32)), photo64) == pytest.approx(left / 2, rel=1e-5)


def test_a_mask_needs_a_spatial_layer(tiny_cnn):
    from reverie.models import layer_shapes

    objective = masked(reverie.parse_objective("logit(3)"), torch.ones(8, 8))
    with pytest.raises(reverie.ReverieError, match="masked\\(\\) needs layers with a spatial map"):
        objective.check(layer_shapes(tiny_cnn, objective.layers))


def test_a_mask_outside_zero_to_one_is_refused():
    with pytest.raises(reverie.ReverieError, match="mask values must be in \\[0, 1\\]"):
        masked(channel(TINY_LAYER, 3), torch.full((8, 8), 2.0))


def test_mask_pictures_give_their_alpha_else_their_luminance():
    grey = np.array([[0, 255], [128, 255]], dtype=np.uint8)
    rgba = np.zeros((2, 2, 4), dtype=np.uint8)
    rgba[..., :3] = 255  # white everywhere: only the alpha may count
    rgba[..., 3] = grey
    expected = torch.from_numpy(grey / 255.0).float()[None, None]
    assert torch.equal(mask_from_pil(Image.fromarray(rgba, "RGBA")), expected)
    assert torch.equal(mask_from_pil(Image.fromarray(grey, "L")), expected)


def test_a_blend_splits_at_the_top_level_bars_only():
    assert [o.expression() for o in parse_blend("channel(a, 1) | 0.5*layer(b) + layer(c) | neuron(d, 2)")] == \
        ["channel(a, 1)", "0.5*layer(b) + layer(c)", "neuron(d, 2)"]
    with pytest.raises(reverie.ReverieError, match="two or more objectives"):
        parse_blend("layer(a)")
    with pytest.raises(reverie.ReverieError, match="cannot apply '\\|'"):
        parse_blend("(layer(a) | layer(b)) + layer(c) | layer(d)")


# --- masked dreams and blends ------------------------------------------------------------------------

@pytest.mark.parametrize("side", [64, 40], ids=["octaves", "upscaled"])  # 40 px is dreamed at 64 and scaled back
def test_a_masked_dream_leaves_pixels_outside_the_mask_exactly_unchanged(tiny_cnn, photo64, side):
    image = resize(photo64, (side, side))
    mask = left_half_mask(side, side)
    settings = DreamSettings(octaves=2, octave_scale=1.4, steps=5, min_octave_size=32)
    dreamed = deep_dream(tiny_cnn, channel(TINY_LAYER, LEFT), image, settings, mask=mask)
    assert torch.equal(dreamed[..., side // 2:], image[..., side // 2:])
    assert (dreamed[..., : side // 2] - image[..., : side // 2]).abs().mean() > 0.01


def test_a_dream_blend_raises_each_channel_on_its_own_side(tiny_cnn, photo64):
    objectives = [channel(TINY_LAYER, LEFT), channel(TINY_LAYER, RIGHT)]
    dreamed = deep_dream(tiny_cnn, objectives, photo64, DreamSettings(octaves=1, steps=20), mask=ramp_masks(2, 64, 64))
    left_on_left, left_on_right = half_means(tiny_cnn, dreamed, LEFT)
    right_on_left, right_on_right = half_means(tiny_cnn, dreamed, RIGHT)
    assert left_on_left > 1.3 * left_on_right  # (before dreaming: 0.101 vs 0.097)
    assert right_on_right > 1.3 * right_on_left  # (before dreaming: 0.029 vs 0.027)


def test_several_objectives_need_one_mask_each(tiny_cnn, photo64):
    with pytest.raises(reverie.ReverieError, match="2 objective\\(s\\) but 1 mask"):
        deep_dream(tiny_cnn, [layer(TINY_LAYER), layer(TINY_LAYER)], photo64, mask=torch.ones(1, 1, 64, 64))


def test_a_visualized_blend_paints_each_channel_on_its_own_side(tiny_cnn):
    recipe = VisualizeRecipe(model="custom", blend=f"channel({TINY_LAYER}, {LEFT}) | channel({TINY_LAYER}, {RIGHT})",
                             size=(48, 48), settings=RenderSettings(steps=32))
    image = visualize(recipe, model=tiny_cnn).images
    left_on_left, left_on_right = half_means(tiny_cnn, image, LEFT)
    right_on_left, right_on_right = half_means(tiny_cnn, image, RIGHT)
    assert left_on_left > 1.15 * left_on_right  # measured 0.105 vs 0.080
    assert right_on_right > 1.3 * right_on_left  # measured 0.042 vs 0.026


# --- the command line --------------------------------------------------------------------------------

@pytest.fixture
def workdir(tmp_path, monkeypatch):
    """A 48x40 photo, an alpha mask and a grey mask (left half on), a black mask and a garbage file."""
    reverie.to_pil(resize(reverie.sample("chelsea"), (40, 48))).save(tmp_path / "photo.png")
    grey = np.zeros((40, 48), dtype=np.uint8)
    grey[:, :24] = 255
    Image.fromarray(grey, "L").save(tmp_path / "grey.png")
    rgba = np.full((40, 48, 4), 255, dtype=np.uint8)
    rgba[..., 3] = grey
    Image.fromarray(rgba, "RGBA").save(tmp_path / "alpha.png")
    Image.fromarray(np.zeros((40, 48), dtype=np.uint8), "L").save(tmp_path / "black.png")
    (tmp_path / "garbage.png").write_bytes(b"not an image\n" * 10)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def pixels(path) -> np.ndarray:
    with Image.open(path) as picture:
        return np.asarray(picture.convert("RGB"), dtype=np.int16)


@pytest.mark.parametrize("mask_file", ["alpha.png", "grey.png"])
def test_a_masked_dream_file_keeps_the_outside_bit_for_bit_and_replays(workdir, reverie_cli, lite0, mask_file):
    code, _, err = reverie_cli("dream", "photo.png", "-o", "dream.png", "--mask", mask_file,
                               "--layer", "blocks.6", *QUICK)
    assert code == 0, err
    dreamed, original = pixels("dream.png"), pixels("photo.png")
    assert np.array_equal(dreamed[:, 24:], original[:, 24:])
    assert np.abs(dreamed[:, :24] - original[:, :24]).mean() > 1.0
    recipe = json.loads(read_recipe_text("dream.png"))
    assert recipe["mask"] == mask_file and len(recipe["mask_sha256"]) == 64
    code, _, err = reverie_cli("dream", "--recipe", "dream.png", "-o", "again.png", "--quiet")
    assert code == 0, err
    assert np.array_equal(pixels("again.png"), dreamed)


def test_a_changed_mask_file_is_noticed_on_replay(workdir, reverie_cli, lite0):
    code, _, err = reverie_cli("dream", "photo.png", "-o", "dream.png", "--mask", "grey.png", "--layer", "blocks.6",
                               *QUICK)
    assert code == 0, err
    (workdir / "grey.png").write_bytes((workdir / "alpha.png").read_bytes())
    code, _, err = reverie_cli("dream", "--recipe", "dream.png", "-o", "again.png", "--quiet")
    assert code == 2 and "mask grey.png differs from the file the recipe was made from" in err


def test_a_blend_dream_is_recorded_and_replayed(workdir, reverie_cli, lite0):
    code, _, err = reverie_cli("dream", "photo.png", "-o", "blend.png", "--blend",
                               "channel(blocks.6, 3)|channel(blocks.6, 9)", "--blend-ramp", "vertical", *QUICK)
    assert code == 0, err
    assert "blend channel(blocks.6, 3) | channel(blocks.6, 9)" in err
    recipe = json.loads(read_recipe_text("blend.png"))
    assert (recipe["blend"], recipe["blend_ramp"], recipe["objective"]) == \
        ("channel(blocks.6, 3) | channel(blocks.6, 9)", "vertical", "")
    code, _, err = reverie_cli("dream", "--recipe", "blend.png", "-o", "again.png", "--quiet")
    assert code == 0, err
    assert np.array_equal(pixels("again.png"), pixels("blend.png"))


@pytest.mark.parametrize("arguments, message", [
    (["--mask", "missing.png"], "mask image not found: missing.png"),
    (["--mask", "garbage.png"], "cannot read mask garbage.png: not an image file PIL can decode"),
    (["--mask", "black.png"], "mask black.png is empty (all black or fully transparent)"),
    (["--blend", "layer(blocks.6)"], "a blend needs two or more objectives separated by '|'"),
    (["--blend", "layer(blocks.6)|layer(blocks.5)", "--objective", "layer(blocks.3)"],
     "--blend names its own objectives; give --blend or --objective/--layer/--channel, not both"),
    (["--blend", "layer(blocks.6)|layer(blocks.5)", "--layer", "blocks.3"], "--blend names its own objectives"),
    (["--blend-ramp", "radial"], "--blend-ramp needs --blend"),
    (["--blend", "layer(blocks.6)|layer(blocks.5)", "--blend-ramp", "diagonal"],
     "unknown blend-ramp 'diagonal' (nearest: radial, horizontal)"),
])
def test_a_mask_or_blend_mistake_is_one_line_and_writes_nothing(workdir, reverie_cli, arguments, message):
    code, _, err = reverie_cli("dream", "photo.png", "-o", "out.png", *arguments, *QUICK)
    assert code == 2
    assert err.startswith("reverie: error: ") and message in err and len(err.strip().splitlines()) == 1
    assert not (workdir / "out.png").exists()


@pytest.mark.parametrize("arguments, message", [
    (["--blend", "layer(blocks.6)|layer(blocks.5)", "--objective", "layer(blocks.3)"], "--blend names its own"),
    (["--blend", "layer(blocks.6)|layer(blocks.5)", "--layer", "blocks.6", "--channels", "0-3"],
     "--blend names its own"),
    (["--blend-ramp", "vertical", "--objective", "layer(blocks.3)"], "--blend-ramp needs --blend"),
])
def test_visualize_blend_conflicts_are_one_line(workdir, reverie_cli, arguments, message):
    code, _, err = reverie_cli("visualize", "-o", "out.png", *arguments, "--quiet")
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1


def test_a_visualized_blend_is_recorded_and_replayed(workdir, reverie_cli, lite0):
    code, _, err = reverie_cli("visualize", "-o", "v.png", "--blend", "channel(blocks.6, 3) | channel(blocks.6, 9)",
                               "--blend-ramp", "radial", "--size", "48x48", "--steps", "4", "--quiet")
    assert code == 0, err
    recipe = json.loads(read_recipe_text("v.png"))
    assert (recipe["blend"], recipe["blend_ramp"]) == ("channel(blocks.6, 3) | channel(blocks.6, 9)", "radial")
    code, _, err = reverie_cli("visualize", "--recipe", "v.png", "-o", "again.png", "--quiet")
    assert code == 0, err
    assert np.array_equal(pixels("again.png"), pixels("v.png"))
