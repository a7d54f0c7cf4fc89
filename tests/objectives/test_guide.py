"""Guided dreaming: the gradient is the best-matching guide vector, and a guided dream grows the guide's features."""
from __future__ import annotations

import json

import pytest
import torch

import reverie
from reverie.engine.deepdream import DreamSettings
from reverie.errors import ReverieError
from reverie.imaging import resize, to_pil
from reverie.objectives.guide import Guided, guide_features


def test_the_gradient_at_each_position_is_the_best_matching_guide_vector():
    # The DeepDream notebook's objective_guide: dst.diff = guide[:, argmax(x . guide)].
    generator = torch.Generator().manual_seed(0)
    guide = torch.randn(7, 5, generator=generator)                              # [N, C]
    values = torch.randn(1, 5, 3, 4, generator=generator, requires_grad=True)  # [B, C, H, W]
    Guided("blocks.1", guide).score({"blocks.1": values}).backward()
    positions = values.detach()[0].flatten(1).T                                 # [H*W, C]
    best = guide[(positions @ guide.T).argmax(dim=1)]                           # [H*W, C]
    expected = best.T.reshape(1, 5, 3, 4) / 12                                  # the mean over 12 positions
    assert torch.allclose(values.grad, expected, atol=1e-6)


def test_guide_features_are_every_position_of_the_layer(tiny_cnn, photo32):
    features = guide_features(tiny_cnn, photo32, ["features.relu3"])["features.relu3"]
    assert features.shape == (16 * 16, 24)  # one vector per position of the 16x16 map, 24 channels
    thinned = guide_features(tiny_cnn, photo32, ["features.relu3"], max_vectors=100)["features.relu3"]
    assert thinned.shape[0] <= 100 and torch.equal(thinned[0], features[0])


def test_a_guide_of_the_wrong_width_is_one_line(tiny_cnn, photo32):
    features = guide_features(tiny_cnn, photo32, ["features.relu2"])["features.relu2"]
    with pytest.raises(ReverieError, match="the guide has 16 channels"):
        Guided("features.relu3", features).check({"features.relu3": torch.Size([1, 24, 16, 16])})


def _guide_score(model, guide: torch.Tensor, image: torch.Tensor, score) -> float:
    features = guide_features(model, guide, ["blocks.6"])["blocks.6"]
    return score(model, Guided("blocks.6", features), image)


@pytest.mark.parametrize("tile", [512, 48])  # one tile, and 2x2 tiles
def test_a_guided_dream_scores_higher_on_the_guides_features_than_an_unguided_one(lite0, score, tile):
    photo, guide = resize(reverie.sample("chelsea"), (80, 80)), resize(reverie.sample("coffee"), (80, 80))
    settings = DreamSettings(octaves=2, steps=6, tile=tile, min_octave_size=48)
    guided = reverie.dream(photo, model=lite0, objective="layer(blocks.6)", settings=settings, guide=guide, device="cpu")
    plain = reverie.dream(photo, model=lite0, objective="layer(blocks.6)", settings=settings, device="cpu")
    towards, away = _guide_score(lite0, guide, guided.image, score), _guide_score(lite0, guide, plain.image, score)
    assert towards > 1.1 * away, (towards, away)
    assert guided.recipe.guide == "live:tensor"


def test_the_dream_command_takes_a_guide_file_and_its_recipe_replays_it(tmp_path, reverie_cli):
    to_pil(resize(reverie.sample("coffee"), (48, 48))).save(tmp_path / "guide.png")
    quick = ["--size", "64x64", "--octaves", "1", "--steps", "2", "-l", "blocks.3", "--quiet"]
    code, _, err = reverie_cli("dream", *quick, "--guide", tmp_path / "guide.png", "-o", tmp_path / "a.png")
    assert code == 0, err
    recipe = reverie.read_recipe(tmp_path / "a.png")
    assert recipe.guide == str(tmp_path / "guide.png") and len(recipe.guide_sha256) == 64
    code, _, err = reverie_cli("dream", *quick, "-o", tmp_path / "plain.png")
    assert code == 0, err
    assert (tmp_path / "a.png").read_bytes() != (tmp_path / "plain.png").read_bytes()
    # A recipe file names its guide inside its own folder only, like any input file.
    data = json.loads(recipe.to_json())
    (tmp_path / "r.json").write_text(json.dumps({**data, "guide": "../elsewhere/guide.png"}))
    code, _, err = reverie_cli("dream", "--recipe", tmp_path / "r.json", "-o", tmp_path / "b.png")
    assert code == 2 and "guide leads out of its folder" in err and err.count("\n") == 1
    code, _, err = reverie_cli("dream", *quick, "--guide", "coffee", "-o", tmp_path / "s.png")
    assert code == 0, err
    assert reverie.read_recipe(tmp_path / "s.png").guide == "sample:coffee"
    code, _, err = reverie_cli("dream", *quick, "--guide", tmp_path / "missing.png", "-o", tmp_path / "c.png")
    assert code == 2 and "missing.png" in err and err.count("\n") == 1
