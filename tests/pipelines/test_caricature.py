"""Caricature (feature inversion): the score, the pipeline on a tiny CNN, and the command on the embedded model."""
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
from reverie.objectives.caricature import caricature, caricature_score
from reverie.pipelines.caricature import run as run_caricature
from reverie import CaricatureRecipe
from reverie.recorder import ActivationRecorder

LAYER = "features.relu3"


def activations(model, image, layer=LAYER):
    with torch.no_grad(), ActivationRecorder(model, (layer,)) as recorder:
        return recorder(image)[layer]


def correlation(a, b):
    """Correlation of two activation maps [1, C, H, W], position by position, each channel centred
    (a ReLU map's channel means make the plain cosine high for any image)."""
    a, b = a - a.mean(dim=(-2, -1), keepdim=True), b - b.mean(dim=(-2, -1), keepdim=True)
    return float(torch.nn.functional.cosine_similarity(a.flatten(), b.flatten(), dim=0))


def test_caricature_score_is_one_for_the_reference_and_floors_the_cosine():
    reference = torch.rand(1, 4, 3, 3) + 0.1
    assert torch.allclose(caricature_score(reference, reference, power=2), torch.ones(1))
    assert torch.allclose(caricature_score(3 * reference, reference, power=2), torch.full((1,), 3.0))
    opposite = caricature_score(-reference, reference, power=1)
    assert torch.allclose(opposite, torch.full((1,), -0.1))  # dot = -1, cosine -1 floored at 0.1


def test_caricature_objective_reads_the_last_batch_item_as_the_reference():
    objective = caricature("x", power=2)
    assert objective.label() == "caricature(x, power=2)" and objective.layers == ("x",)
    assert not objective.textual  # it compares with the batch's last item: no text form
    reference = torch.rand(1, 5, 2, 2)
    assert torch.allclose(objective({"x": torch.cat([2 * reference, reference])}), torch.tensor(2.0))


def test_caricature_activations_correlate_with_the_photo_more_than_a_random_image(tiny_cnn, photo64):
    photo = resize(photo64, (48, 48))
    recipe = CaricatureRecipe(layers=(LAYER,), size=(48, 48), settings=RenderSettings(steps=40, redirect_steps=0),
                              model="tiny")
    result = run_caricature(recipe, model=tiny_cnn, photo=photo, device="cpu")
    assert result.images.shape == (1, 3, 48, 48)
    target = activations(tiny_cnn, photo)
    made = correlation(activations(tiny_cnn, result.images), target)
    random = correlation(activations(tiny_cnn, torch.rand(1, 3, 48, 48, generator=torch.Generator().manual_seed(0))),
                    target)
    assert made > random + 0.2, f"caricature correlation {made:.3f} vs random image {random:.3f}"
    assert result.history[-1] > result.history[0]


def test_caricature_of_several_layers_at_a_non_square_size_is_a_labelled_sheet(tiny_cnn, photo64):
    recipe = CaricatureRecipe(layers=("features.relu1", LAYER), size=(40, 24),
                              settings=RenderSettings(steps=3, redirect_steps=0), model="tiny")
    events = []
    result = run_caricature(recipe, model=tiny_cnn, photo=photo64, device="cpu", progress=events.append)
    assert result.images.shape == (2, 3, 24, 40)
    assert [event.stage for event in events] == ["layer 1/2"] * 3 + ["layer 2/2"] * 3
    assert events[-1].fraction == 1 and events[-1].preview().shape == (1, 3, 24, 40)  # the photo is left out
    assert result.labels == ["features.relu1", LAYER]
    assert result.picture().size == (2 * 40 + 4, 24)  # two cells side by side, a 4 px gap


def pixels(path) -> np.ndarray:
    with Image.open(path) as picture:
        return np.asarray(picture)


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_cli_caricature_embeds_its_recipe_and_replays_to_identical_pixels(workdir, reverie_cli, lite0):
    Image.fromarray((np.random.default_rng(0).random((30, 50, 3)) * 255).astype(np.uint8)).save("photo.png")
    code, _, err = reverie_cli("caricature", "photo.png", "-o", "c.png", "--layer", "blocks.3", "--steps", "4",
                               "--quiet")
    assert code == 0, err
    assert pixels("c.png").shape == (134, 224, 3)  # the photo's aspect, long side 224
    recipe = json.loads(read_recipe_text("c.png"))
    assert recipe["kind"] == "caricature" and recipe["layers"] == ["blocks.3"] and recipe["size"] == [224, 134]
    assert recipe["source"] == "photo.png" and recipe["source_sha256"]
    code, _, err = reverie_cli("caricature", "--recipe", "c.png", "-o", "again.png", "--quiet")
    assert code == 0, err
    assert np.array_equal(pixels("again.png"), pixels("c.png"))


@pytest.mark.parametrize("args, message", [
    (["missing.png"], "input image not found: missing.png"),
    (["chelsea", "--layer", "blocks.55"], "unknown layer 'blocks.55'"),
])
def test_cli_caricature_bad_inputs_give_one_line_errors(workdir, reverie_cli, lite0, args, message):
    code, _, err = reverie_cli("caricature", *args, "--size", "32x32", "--steps", "1", "--quiet")
    assert code == 2
    assert err.strip().count("\n") == 0 and message in err, err
    assert not Path("caricature.png").exists()


def test_new_caricatures_exaggerate_by_default_and_older_files_keep_their_power():
    from reverie.pipelines.caricature import CaricatureRecipe

    assert CaricatureRecipe().power == 0.0 and CaricatureRecipe().view == 384
    old = CaricatureRecipe.from_json('{"kind": "caricature", "layers": ["blocks.8"]}')
    assert old.power == 1.0 and old.view == 0
