"""ActivationRecorder: records named layers, stops the forward early, and leaves no hooks behind."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from reverie import ActivationRecorder, ReverieError


class Tripwire(nn.Module):
    """Counts its calls, then fails: proves that a forward pass never reached it."""

    def __init__(self):
        super().__init__()
        self.calls = 0

    def forward(self, x):
        self.calls += 1
        raise AssertionError("the forward pass ran past the deepest recorded layer")


class Branchy(nn.Module):
    """A non-Sequential forward: modules called out of registration order, a skip connection,
    a tuple-returning block, and a tripwire at the end."""

    def __init__(self):
        super().__init__()
        self.late = nn.Conv2d(6, 4, 3, padding=1)   # registered first, called last
        self.early = nn.Conv2d(3, 6, 3, padding=1)
        self.pair = PairBlock()
        self.after = Tripwire()

    def forward(self, x):
        y = torch.relu(self.early(x))
        y, _ = self.pair(y)
        z = self.late(y + torch.relu(self.early(x)))
        return self.after(z)


class PairBlock(nn.Module):
    def forward(self, x):
        return x * 2, x.sum()


def test_records_named_layers_with_their_real_outputs(tiny_cnn, photo32):
    with ActivationRecorder(tiny_cnn, ["features.relu1", "features.conv3"]) as recorder:
        activations = recorder(photo32)
    assert set(activations) == {"features.relu1", "features.conv3", "@input"}
    assert activations["@input"] is photo32
    features = tiny_cnn.features
    with torch.no_grad():
        relu1 = features.relu1(features.conv1(photo32))
        conv3 = features.conv3(features.pool(features.relu2(features.conv2(relu1))))
    assert torch.allclose(activations["features.relu1"], relu1)
    assert torch.allclose(activations["features.conv3"], conv3)
    assert activations["features.conv3"].shape == (1, 24, 16, 16)


def test_forward_stops_at_the_deepest_wanted_layer(tiny_cnn, photo32):
    tripwire = Tripwire()
    tiny_cnn.head = tripwire  # everything after features now fails if it ever runs
    with ActivationRecorder(tiny_cnn, ["features.relu2", "features.relu3"]) as recorder:
        activations = recorder(photo32)
        recorder(photo32)
    assert tripwire.calls == 0
    assert {"features.relu2", "features.relu3"} <= set(activations)
    with pytest.raises(AssertionError, match="ran past"):
        tiny_cnn(photo32)  # the tripwire is live: without the recorder, the forward reaches it


def test_works_for_a_model_with_a_custom_forward(photo32):
    model = Branchy().eval()
    with ActivationRecorder(model, ["late", "pair", "early"]) as recorder:
        activations = recorder(photo32)
    assert model.after.calls == 0
    assert activations["late"].shape == (1, 4, 32, 32)
    # Of a tuple output the first element is recorded; a module called twice keeps its last call.
    with torch.no_grad():
        early = torch.relu(model.early(photo32))
    assert torch.allclose(activations["pair"], early * 2)
    assert torch.allclose(activations["early"], model.early(photo32))


def test_activations_carry_gradients_back_to_the_image(tiny_cnn, photo32):
    image = photo32.clone().requires_grad_(True)
    with ActivationRecorder(tiny_cnn, ["features.relu3"]) as recorder:
        score = recorder(image)["features.relu3"].pow(2).mean()
    (gradient,) = torch.autograd.grad(score, image)
    assert gradient.shape == image.shape and gradient.abs().sum() > 0


def _hook_count(model: nn.Module) -> int:
    return sum(len(module._forward_hooks) for module in model.modules())


def test_hooks_are_removed_after_the_with_block(tiny_cnn, photo32):
    with ActivationRecorder(tiny_cnn, ["features.conv1", "features.relu3"]) as recorder:
        assert _hook_count(tiny_cnn) == 2
        recorder(photo32)
    assert _hook_count(tiny_cnn) == 0
    assert tiny_cnn(photo32).shape == (1, 10)  # the full forward works normally again


def test_hooks_are_removed_when_the_block_raises(tiny_cnn):
    with pytest.raises(ValueError):
        with ActivationRecorder(tiny_cnn, ["features.conv1"]) as recorder:
            recorder(torch.rand(1, 3, 16, 16))
            raise ValueError("user code failed inside the block")
    assert _hook_count(tiny_cnn) == 0


def test_recording_outside_the_with_block_is_refused(tiny_cnn, photo32):
    recorder = ActivationRecorder(tiny_cnn, ["features.conv1"])
    with pytest.raises(RuntimeError, match="with"):
        recorder(photo32)


def test_unknown_layer_names_the_nearest_valid_ones(tiny_cnn):
    with pytest.raises(ReverieError, match=r"unknown layer 'features\.conv4' \(nearest: .*features\.conv[123]"):
        ActivationRecorder(tiny_cnn, ["features.conv4"])


def test_unknown_block_of_the_embedded_model_suggests_the_block(lite0):
    with pytest.raises(ReverieError) as info:
        ActivationRecorder(lite0, ["blocks.55"])
    message = str(info.value)
    assert message.startswith("unknown layer 'blocks.55'")
    assert "blocks.5," in message or message.endswith("blocks.5)")


def test_the_whole_model_is_not_a_layer(tiny_cnn):
    with pytest.raises(ReverieError, match="unknown layer ''"):
        ActivationRecorder(tiny_cnn, [""])


def test_recording_only_the_input_never_runs_the_model(tiny_cnn, photo32):
    tiny_cnn.features = Tripwire()
    with ActivationRecorder(tiny_cnn, ["@input"]) as recorder:
        activations = recorder(photo32)
    assert tiny_cnn.features.calls == 0
    assert list(activations) == ["@input"] and activations["@input"] is photo32


def test_output_runs_the_whole_model_and_records_its_return_value(tiny_cnn, photo32):
    with ActivationRecorder(tiny_cnn, ["@output", "features.conv1"]) as recorder:
        activations = recorder(photo32)
    with torch.no_grad():
        assert torch.allclose(activations["@output"], tiny_cnn(photo32))
    assert activations["features.conv1"].shape == (1, 8, 32, 32)


def test_a_layer_the_forward_never_calls_is_reported(tiny_cnn, photo32):
    tiny_cnn.unused = nn.Conv2d(3, 3, 1)
    with ActivationRecorder(tiny_cnn, ["unused", "features.conv1"]) as recorder:
        with pytest.raises(ReverieError, match="layer unused produced no output"):
            recorder(photo32)
    assert _hook_count(tiny_cnn) == 0


def test_duplicate_layer_names_are_recorded_once(tiny_cnn, photo32):
    with ActivationRecorder(tiny_cnn, ["features.conv1", "features.conv1"]) as recorder:
        assert recorder.layers == ["features.conv1"]
        assert sorted(recorder(photo32)) == ["@input", "features.conv1"]
