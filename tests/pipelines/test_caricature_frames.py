"""Caricature morphs: frames that move from one layer's caricature to the next, each from the one before."""
from __future__ import annotations

import pytest

from reverie.engine.optimize import RenderSettings
from reverie.errors import ReverieError
from reverie.pipelines.caricature import CaricatureRecipe, caricature

SETTINGS = RenderSettings(steps=12)


def test_a_morph_has_the_frames_asked_for_and_moves_in_small_steps(tiny_cnn, photo32):
    result = caricature(photo32, layers=("features.relu1", "features.relu3"), size=(32, 32), settings=SETTINGS,
                        model=tiny_cnn, device="cpu", frames=5)
    assert result.images.shape == (5, 3, 32, 32)
    assert result.labels[0] == "features.relu1>features.relu3 0.00" and result.labels[-1].endswith("1.00")
    steps = [float((result.images[k + 1] - result.images[k]).abs().mean()) for k in range(4)]
    assert max(steps) < float((result.images[-1] - result.images[0]).abs().mean())
    assert result.recipe.frames == 5


def test_a_morph_needs_two_layers():
    with pytest.raises(ReverieError, match="give two or more --layer with --frames"):
        CaricatureRecipe(layers=("blocks.8",), frames=4)


def test_the_caricature_command_writes_a_morph_gif(tmp_path, reverie_cli):
    from PIL import Image

    code, _, err = reverie_cli("caricature", "chelsea", "-l", "blocks.1", "-l", "blocks.3", "--frames", "3",
                               "--size", "48x32", "--steps", "2", "-o", tmp_path / "sheet.png", "--gif",
                               tmp_path / "morph.gif", "--delay", "7", "--quiet")
    assert code == 0, err
    with Image.open(tmp_path / "morph.gif") as gif:
        assert (gif.n_frames, gif.size, gif.info["duration"]) == (3, (48, 32), 70)
