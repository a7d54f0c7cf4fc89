"""Transformers and one-size networks: token and channels-last layers read as feature maps, fixed inputs fitted."""
from __future__ import annotations

import importlib
import json
import sys
import warnings
from dataclasses import replace
from pathlib import Path

import pytest
import torch

import reverie
from reverie import ReverieError
from reverie.engine.deepdream import DreamSettings, deep_dream
from reverie.engine.optimize import RenderSettings
from reverie.errors import ReverieNote
from reverie.layouts import detect_layout, feature_map, token_grid
from reverie.models import dreamable_layers, layer_shapes
from reverie.objectives import channel, layer, neuron, parse_objective

HERE = str(Path(__file__).parent)


@pytest.fixture(autouse=True)
def tiny_transformers(monkeypatch):
    """The test models module, importable by name as a user's own module would be (``--model tiny_transformers:vit``)."""
    monkeypatch.syspath_prepend(HERE)
    yield importlib.import_module("tiny_transformers")
    sys.modules.pop("tiny_transformers", None)


SETTINGS = DreamSettings(octaves=2, octave_scale=1.5, steps=6, step_size=0.03, jitter=4, min_octave_size=16)


@pytest.fixture
def quiet_notes():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ReverieNote)
        yield


def test_token_counts_give_the_patch_grid_and_the_extra_tokens():
    assert token_grid(197, 224, 224) == (14, 14, 1)      # ViT-B/16: class token
    assert token_grid(201, 224, 224) == (14, 14, 5)      # DINOv2 with 4 registers
    assert token_grid(196, 224, 224) == (14, 14, 0)      # MLP-Mixer
    assert token_grid(24, 64, 96) == (4, 6, 0)           # a non-square grid follows the image
    assert detect_layout((1, 7, 7, 768), 224, 224).kind == "nhwc"   # Swin
    assert detect_layout((1, 768, 7, 7), 224, 224).kind == "nchw"   # a CNN
    assert detect_layout((1, 7, 7, 7), 224, 224).kind == "nchw"     # ambiguous: as it always was
    assert detect_layout((1, 7, 7, 768), 224, 224, stated="nchw").kind == "nchw"


def test_a_token_activation_becomes_a_feature_map_without_the_class_token():
    tokens = torch.arange(2 * 5 * 3, dtype=torch.float32).view(2, 5, 3)  # [B, 1 + 2*2, D]
    mapped = feature_map(tokens, 32, 32)
    assert mapped.shape == (2, 3, 2, 2)
    assert torch.equal(mapped[:, :, 0, 1], tokens[:, 2])  # patch (row 0, col 1) is token 1 + 1
    with pytest.raises(ReverieError, match="tile no grid"):
        feature_map(torch.zeros(1, 7, 3), 32, 32, stated="tokens", layer="blocks.1")


@pytest.mark.parametrize("name, blocks, features, grid, layout", [
    ("vit", ["blocks.0", "blocks.1", "blocks.2"], 24, "4x4", "tokens+1"),
    ("mixer", ["blocks.0", "blocks.1"], 16, "4x4", "tokens"),
    ("swin", ["features.1.0", "features.1.1", "features.3.0", "features.3.1"], 12, "56x56", "nhwc"),
])
def test_reverie_layers_lists_transformer_blocks_with_features_and_grid(reverie_cli, name, blocks, features, grid,
                                                                        layout):
    code, out, err = reverie_cli("layers", "--model", f"tiny_transformers:{name}", "--json")
    assert code == 0, err
    listed = {info["name"]: info for info in json.loads(out)["layers"]}
    assert set(blocks) <= set(listed)
    first = listed[blocks[0]]
    assert first["channels"] == features and f"{first['width']}x{first['height']}" == grid
    assert first["layout"] == layout
    if name != "swin":  # the ViT and the Mixer take 32x32 only, and say so
        assert "takes 32x32 inputs only" in err


def test_channel_indexes_a_transformers_features(quiet_notes, tiny_transformers):
    vit = tiny_transformers.vit()
    assert layer_shapes(vit, ["blocks.1"])["blocks.1"] == (1, 24, 4, 4)
    channel("blocks.1", 23).check(layer_shapes(vit, ["blocks.1"]))
    with pytest.raises(ReverieError, match=r"valid: 0-23"):
        channel("blocks.1", 24).check(layer_shapes(vit, ["blocks.1"]))
    swin = tiny_transformers.swin()
    assert layer_shapes(swin, ["features.3"])["features.3"] == (1, 24, 8, 8)  # [B, C, h, w] of [B, h, w, C]


def test_a_stated_layout_wins_over_the_shapes(reverie_cli):
    code, out, err = reverie_cli("layers", "--model", "tiny_transformers:swin", "--layout", "nchw", "--json")
    assert code == 0, err
    listed = {info["name"]: info for info in json.loads(out)["layers"]}
    assert listed["features.1"]["layout"] == "nchw" and listed["features.1"]["channels"] == 56


def test_a_vit_dreams_tiled_with_octaves_and_its_objective_rises(photo64, assert_objective_rises, tiny_transformers):
    vit = tiny_transformers.vit()
    with pytest.warns(ReverieNote, match="takes 32x32 inputs only"):
        result = reverie.dream(photo64, model=vit, objective="channel(blocks.1, 5)", settings=SETTINGS, device="cpu")
    assert result.image.shape == photo64.shape
    assert_objective_rises(vit, channel("blocks.1", 5), photo64, result.image, factor=1.2)


@pytest.mark.parametrize("objective", [neuron("blocks.2", 3, x=1, y=2), layer("blocks.2")])
def test_neuron_and_masked_objectives_use_the_patch_grid(photo32, objective, score, quiet_notes, tiny_transformers):
    vit = tiny_transformers.vit()
    layer_shapes(vit, objective.layers)  # fits the model to its one input size
    mask = torch.zeros(1, 1, 32, 32)
    mask[..., :, :16] = 1  # the left half: patch columns 0 and 1 of 4
    masked = objective.masked(mask)
    # No jitter: a shift of half a patch moves a neuron's position on a 4x4 grid
    dreamed = deep_dream(vit, masked, photo32, replace(SETTINGS, jitter=0), seed=1)
    assert score(vit, masked, dreamed) > score(vit, masked, photo32)
    assert score(vit, objective, dreamed) > score(vit, objective, photo32)
    with torch.no_grad():
        grid = reverie.recorder.ActivationRecorder(vit, ["blocks.2"])
        with grid as recorder:
            assert recorder(photo32)["blocks.2"].shape == (1, 24, 4, 4)


def test_a_vit_visualizes_at_its_own_size(quiet_notes, score, tiny_transformers):
    vit = tiny_transformers.vit()
    before = reverie.visualize("channel(blocks.2, 7)", model=vit, size=(48, 48), settings=RenderSettings(steps=1),
                               device="cpu", seed=3)
    after = reverie.visualize("channel(blocks.2, 7)", model=vit, size=(48, 48), settings=RenderSettings(steps=24),
                              device="cpu", seed=3)
    objective = channel("blocks.2", 7)
    assert score(vit, objective, after.image) > score(vit, objective, before.image)


def test_a_swin_style_model_dreams_on_its_channels_last_blocks(photo64, assert_objective_rises, tiny_transformers):
    swin = tiny_transformers.swin()
    objective = parse_objective("channel(features.3, 2) + neuron(features.1, 4)")
    result = reverie.dream(photo64, model=swin, objective=objective, settings=SETTINGS, device="cpu")
    assert_objective_rises(swin, objective, photo64, result.image, factor=1.2)


def test_a_cnn_with_a_fixed_flatten_dreams_a_class(photo32, assert_objective_rises, tiny_transformers):
    cnn = tiny_transformers.flatten_cnn()
    with pytest.warns(ReverieNote, match="takes 32x32 inputs only"):  # its smaller octave is resized to 32
        result = reverie.dream(photo32, model=cnn, objective="logit(4)", settings=replace(SETTINGS, jitter=0),
                               device="cpu")
    assert result.image.shape == photo32.shape
    assert_objective_rises(cnn, parse_objective("logit(4)"), photo32, result.image, factor=1.5)
    # Its convolutions take any size: a layer objective does not fit the model to one size.
    layered = tiny_transformers.flatten_cnn()
    assert layer_shapes(layered, ["features.3"])["features.3"] == (1, 16, 32, 32)
    with pytest.warns(ReverieNote, match="layers listed at 32x32"):  # its head fails at 224
        assert [info.name for info in dreamable_layers(layered)][:1] == ["features.0"]


def test_a_recipe_written_before_layouts_keeps_every_output_as_it_came():
    from reverie.recipe import from_json
    from reverie.pipelines.dream import DreamRecipe

    data = json.loads(DreamRecipe().to_json())
    assert data["model"].pop("layout") == "auto"
    assert from_json(json.dumps(data)).model.layout == "nchw"  # how such a recipe's pixels were made
