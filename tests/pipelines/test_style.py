"""Style transfer: Gram matrices, the pipeline on a tiny CNN, and the command on the embedded model."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from reverie.engine.optimize import RenderSettings
from reverie.imaging import resize
from reverie.io.images import read_recipe_text
from reverie.objectives.style import ContentObjective, StyleObjective, gram, style_targets
from reverie.params import noise_image
from reverie.pipelines.prepare import record
from reverie.pipelines.style import style_transfer
from reverie.randomness import generator
from reverie import StyleRecipe

STYLE_LAYERS = ("features.relu1", "features.relu2", "features.relu3")
CONTENT_LAYER = "features.relu3"


def test_gram_is_channel_by_channel_and_averaged_over_positions():
    activation = torch.ones(2, 3, 4, 5)
    result = gram(activation)
    assert result.shape == (2, 3, 3) and torch.allclose(result, torch.ones(2, 3, 3))


def save(image: torch.Tensor, path: str) -> None:
    array = (image[0].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
    Image.fromarray(array).save(path)


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_style_distance_falls_while_content_distance_stays_below_a_random_image(tiny_cnn, photo64, workdir):
    style = noise_image(48, 48, generator(0, "style"), scale=6)  # strong-coloured fractal texture
    save(style, "style.png")
    save(resize(photo64, (48, 48)), "content.png")
    recipe = StyleRecipe(content="content.png", style="style.png", style_layers=STYLE_LAYERS,
                         content_layers=(CONTENT_LAYER,), size=(48, 48), style_weight=1.0, content_weight=1.0,
                         settings=RenderSettings(steps=40, redirect_steps=0), model="tiny")
    result = style_transfer(recipe, model=tiny_cnn, device="cpu")
    assert result.image.shape == (1, 3, 48, 48)

    content = resize(photo64, (48, 48))
    style_score = StyleObjective(style_targets(record(tiny_cnn, style, STYLE_LAYERS), STYLE_LAYERS))
    content_score = ContentObjective(CONTENT_LAYER, record(tiny_cnn, content, (CONTENT_LAYER,))[CONTENT_LAYER])
    layers = STYLE_LAYERS

    def distances(image):
        activations = record(tiny_cnn, image, layers)
        return float(-style_score(activations)), float(-content_score(activations))

    style_before, _ = distances(content)
    style_after, content_after = distances(result.image)
    _, content_random = distances(torch.rand(1, 3, 48, 48, generator=torch.Generator().manual_seed(0)))
    assert style_after < 0.7 * style_before, f"Gram distance went from {style_before:.3g} to {style_after:.3g}"
    assert content_after < content_random, f"content distance {content_after:.3g} vs random {content_random:.3g}"


def test_style_transfer_keeps_a_non_square_size_and_starts_from_noise_on_request(tiny_cnn, workdir, photo64):
    save(photo64, "content.png")
    recipe = StyleRecipe(content="content.png", style="sample:coffee", style_layers=STYLE_LAYERS,
                         content_layers=(CONTENT_LAYER,), size=(40, 24), init="noise",
                         settings=RenderSettings(steps=2, redirect_steps=0), model="tiny")
    result = style_transfer(recipe, model=tiny_cnn, device="cpu")
    assert result.image.shape == (1, 3, 24, 40) and result.recipe.size == (40, 24)
    assert result.recipe.content_sha256 and result.recipe.style_sha256 is None


def pixels(path) -> np.ndarray:
    with Image.open(path) as picture:
        return np.asarray(picture)


def test_cli_style_embeds_its_recipe_and_replays_to_identical_pixels(workdir, reverie_cli, lite0):
    code, _, err = reverie_cli("style", "chelsea", "coffee", "-o", "s.png", "--size", "48x32", "--steps", "4",
                               "--quiet")
    assert code == 0, err
    assert pixels("s.png").shape == (32, 48, 3)
    recipe = json.loads(read_recipe_text("s.png"))
    assert recipe["kind"] == "style" and recipe["content"] == "sample:chelsea" and recipe["style"] == "sample:coffee"
    code, _, err = reverie_cli("style", "--recipe", "s.png", "-o", "again.png", "--quiet")
    assert code == 0, err
    assert np.array_equal(pixels("again.png"), pixels("s.png"))


@pytest.mark.parametrize("args, message", [
    (["missing.png", "coffee"], "input image not found: missing.png"),
    (["chelsea", "coffee", "--style-layers", "blocks.1,blocks.55"], "unknown layer 'blocks.55'"),
    (["chelsea", "coffee", "--content-layers", "blokcs.9"], "unknown layer 'blokcs.9'"),
])
def test_cli_style_bad_inputs_give_one_line_errors(workdir, reverie_cli, lite0, args, message):
    code, _, err = reverie_cli("style", *args, "--size", "32x32", "--steps", "1", "--quiet")
    assert code == 2
    assert err.strip().count("\n") == 0 and message in err, err
    assert not Path("style.png").exists()
