"""An MP4 carries its recipe as images do, and gives it back exactly."""
from __future__ import annotations

import json

import pytest
import torch

import reverie
from reverie.errors import ReverieError
from reverie.io.video import read_mp4_recipe, write_mp4
from reverie.pipelines.animate import AnimateRecipe

FRAMES = [torch.rand(1, 3, 16, 16, generator=torch.Generator().manual_seed(i)) for i in range(3)]


def test_the_recipe_survives_characters_that_ffmpeg_metadata_escapes(tmp_path):
    text = json.dumps({"kind": "animate", "keyframes": ["3: layer=blocks.9; steps=4 # \\ \n"], "note": "a=b"})
    path = write_mp4(tmp_path / "a.mp4", FRAMES, fps=4, recipe_json=text)
    assert read_mp4_recipe(path) == text


def test_an_mp4_without_a_recipe_says_so(tmp_path):
    path = write_mp4(tmp_path / "plain.mp4", FRAMES, fps=4)
    assert read_mp4_recipe(path) is None
    with pytest.raises(ReverieError, match="carries no Reverie recipe"):
        reverie.read_recipe(path)


def test_read_recipe_reads_an_animation_from_its_mp4(tmp_path):
    recipe = AnimateRecipe(transforms=("zoom(0.05)",), frames=3, size=(16, 16))
    path = write_mp4(tmp_path / "anim.mp4", FRAMES, fps=4, recipe_json=recipe.to_json())
    assert reverie.read_recipe(path).to_json() == recipe.to_json()
