"""Text-guided objective (CLIP) on a tiny random dual encoder: plumbing, reproducibility, errors."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from reverie.engine.deepdream import DreamSettings, deep_dream
from reverie.engine.optimize import RenderSettings, render
from reverie.objectives.clip import Clip, ClipSimilarity, CutoutSettings, clip_objective, cutouts
from reverie.params import make_param
from reverie.randomness import generator
from reverie import DreamRecipe, ReverieError, VisualizeRecipe
from reverie.recorder import INPUT

CONTEXT = 16   # tokens per text
WIDTH = 16     # embedding size
SIDE = 32      # the tiny encoder's input side
# A random tiny encoder maps every image near the same embedding, so cosine similarity moves in a
# narrow band: 25 steps raise it by 0.02-0.08 here, while unchanged images differ by under 0.001.
RISE = 0.015


class TinyClip(nn.Module):
    """A seeded random dual encoder with CLIP's interface: encode_image / encode_text -> [N, WIDTH]."""

    def __init__(self):
        super().__init__()
        self.visual = nn.Sequential(nn.Conv2d(3, 16, 4, stride=4), nn.GELU(), nn.Conv2d(16, 32, 3, padding=1),
                                    nn.GELU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(32, WIDTH))
        self.embed = nn.Embedding(64, WIDTH)
        self.text_projection = nn.Linear(WIDTH, WIDTH)
        self.text_calls = 0

    def encode_image(self, images: torch.Tensor) -> torch.Tensor:
        assert images.shape[-2:] == (SIDE, SIDE), images.shape
        return self.visual(images)

    def encode_text(self, tokens: torch.Tensor) -> torch.Tensor:
        self.text_calls += 1
        return self.text_projection(self.embed(tokens).mean(dim=1))  # [M, L, D] -> [M, D]


def tokenize(texts) -> torch.Tensor:
    """Characters -> ids in [1, 64), padded with 0 to CONTEXT tokens: [M, CONTEXT]."""
    rows = [[1 + ord(c) % 63 for c in text[:CONTEXT]] + [0] * (CONTEXT - len(text[:CONTEXT])) for text in texts]
    return torch.tensor(rows)


def make_tiny_clip() -> Clip:
    with torch.random.fork_rng():
        torch.manual_seed(0)
        model = TinyClip().eval().requires_grad_(False)
    return Clip(model, tokenize, SIDE)


@pytest.fixture
def tiny_clip() -> Clip:
    return make_tiny_clip()


def similarity(clip: Clip, image: torch.Tensor, prompt: str = "a red lighthouse") -> float:
    """The objective on ``image`` with a fixed set of 64 cutouts (the same for every image compared)."""
    objective = ClipSimilarity(clip, prompt, generator(123, "measure"), CutoutSettings(count=64, noise=0.0))
    with torch.no_grad():
        return float(objective({INPUT: image}))


def never_called(model: nn.Module) -> nn.Module:
    def refuse(module, inputs):
        raise AssertionError("the dreamed model ran although the objective reads no layer")
    model.register_forward_pre_hook(refuse)
    return model


def test_cutouts_shape_and_gradient(photo64):
    image = photo64.clone().requires_grad_(True)
    batch = cutouts(image, SIDE, CutoutSettings(count=5), generator(0, "cutouts"))
    assert batch.shape == (5, 3, SIDE, SIDE)
    batch.sum().backward()
    assert image.grad is not None and image.grad.abs().sum() > 0


def test_clip_objective_rises_in_render(tiny_clip, tiny_cnn):
    param = make_param("fft", 48, 48, generator=generator(0, "param"))
    before = param().detach()
    objective = clip_objective(tiny_clip, "a red lighthouse", generator(0, "cutouts"), cutouts=8)
    assert objective.layers == ()
    rendering = render(never_called(tiny_cnn), objective, param, (),
                       RenderSettings(steps=25, lr=0.2, redirect_steps=0))
    low, high = similarity(tiny_clip, before), similarity(tiny_clip, rendering.image)
    assert high > low + RISE, f"similarity went from {low:.3f} to {high:.3f}"


def test_clip_objective_rises_with_clampsgd(tiny_clip, tiny_cnn):
    param = make_param("pixel", 48, 48, generator=generator(0, "param"))
    before = param().detach()
    objective = clip_objective(tiny_clip, "a red lighthouse", generator(0, "cutouts"), cutouts=8)
    rendering = render(tiny_cnn, objective, param, (),
                       RenderSettings(steps=25, lr=0.05, optimizer="clampsgd", redirect_steps=0))
    low, high = similarity(tiny_clip, before), similarity(tiny_clip, rendering.image)
    assert high > low + RISE, f"similarity went from {low:.3f} to {high:.3f}"


def test_clip_objective_rises_in_deep_dream(tiny_clip, tiny_cnn, photo64):
    objective = clip_objective(tiny_clip, "a red lighthouse", generator(0, "cutouts"), cutouts=8)
    settings = DreamSettings(octaves=1, steps=25, step_size=0.02, jitter=2)
    dreamed = deep_dream(never_called(tiny_cnn), objective, photo64, settings, seed=0)
    low, high = similarity(tiny_clip, photo64), similarity(tiny_clip, dreamed)
    assert high > low + RISE, f"similarity went from {low:.3f} to {high:.3f}"


def test_text_embedding_computed_once(tiny_clip, tiny_cnn):
    param = make_param("fft", 32, 32, generator=generator(0, "param"))
    objective = clip_objective(tiny_clip, "a red lighthouse", generator(0, "cutouts"), cutouts=2)
    render(tiny_cnn, objective, param, (), RenderSettings(steps=5, redirect_steps=0))
    assert tiny_clip.model.text_calls == 1


def _visualize(clip, model, seed=0):
    from reverie.pipelines.visualize import visualize

    recipe = VisualizeRecipe(model="custom", text="a red lighthouse", cutouts=4, size=(32, 32), seed=seed,
                             settings=RenderSettings(steps=4, redirect_steps=0))
    return visualize(recipe, model=model, device="cpu", clip=clip)


def test_same_seed_same_pixels(tiny_cnn):
    first = _visualize(make_tiny_clip(), tiny_cnn).images
    again = _visualize(make_tiny_clip(), tiny_cnn).images
    other = _visualize(make_tiny_clip(), tiny_cnn, seed=1).images
    assert torch.equal(first, again)
    assert not torch.equal(first, other)


def test_dream_pipeline_combines_text_and_objective(tiny_clip, tiny_cnn, photo32):
    from reverie.pipelines.dream import run

    recipe = DreamRecipe(model="custom", objective="layer(features.conv2)", text="a red lighthouse", cutouts=2,
                         settings=DreamSettings(octaves=1, steps=2, jitter=2))
    result = run(recipe, model=tiny_cnn, image=photo32, device="cpu", clip=tiny_clip)
    # The recipe replays the text from its own field; its objective text stays parseable without CLIP.
    assert result.recipe.objective == "layer(features.conv2)"
    assert DreamRecipe.from_json(result.recipe.to_json()) == result.recipe
    assert result.image.shape == photo32.shape


def test_a_clip_objective_is_labelled_with_its_prompt_and_has_no_text_form(tiny_clip):
    objective = clip_objective(tiny_clip, "a cat", generator(0))
    assert objective.label() == 'clip("a cat")'
    with pytest.raises(ReverieError, match="has no text form"):
        objective.expression()


@pytest.mark.parametrize("command", ["dream", "visualize"])
def test_missing_clip_weights_is_one_line_exit_2(reverie_cli, tmp_path, command):
    code, _, err = reverie_cli(command, "--text", "a lighthouse", "-o", tmp_path / "out.png", "-q")
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "--clip-weights" in lines[0] and "reverie[clip]" in lines[0], err
    assert not (tmp_path / "out.png").exists()


def test_clip_flags_without_text_are_refused(reverie_cli, tmp_path):
    code, _, err = reverie_cli("visualize", "--clip-model", "RN50", "-o", tmp_path / "out.png", "-q")
    assert code == 2 and "need --text" in err
