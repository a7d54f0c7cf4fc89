"""Loading models by name, module:callable, TorchScript or state dict, and listing their layers."""
from __future__ import annotations

import sys
import textwrap

import pytest
import torch
from torch import nn

import reverie
from reverie import ModelSpec, ReverieError, dreamable_layers, load_model, with_input_normalization

USER_MODULE = "reverie_test_user_models"
USER_MODELS = textwrap.dedent('''
    import torch
    from torch import nn

    def build():
        return nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 6, 3, padding=1), nn.ReLU())

    class Zoo:
        @staticmethod
        def small():
            return build()

    ready = build()
    not_a_model = 42
''')


@pytest.fixture
def user_models(tmp_path, monkeypatch):
    """A user's module of model factories, importable as ``reverie_test_user_models``."""
    (tmp_path / f"{USER_MODULE}.py").write_text(USER_MODELS)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, USER_MODULE, raising=False)
    yield USER_MODULE
    sys.modules.pop(USER_MODULE, None)


def assert_ready(model: nn.Module) -> None:
    assert not model.training
    assert not any(parameter.requires_grad for parameter in model.parameters())


@pytest.mark.parametrize("attribute", ["build", "Zoo.small", "ready"])
def test_a_module_callable_spec_builds_the_users_model(user_models, attribute):
    model = load_model(f"{user_models}:{attribute}")
    assert isinstance(model, nn.Sequential) and len(model) == 4
    assert_ready(model)
    assert model(torch.rand(1, 3, 8, 8)).shape == (1, 6, 8, 8)


@pytest.mark.parametrize("spec, message", [
    ("reverie_no_such_module:build", "cannot import module 'reverie_no_such_module'"),
    (f"{USER_MODULE}:missing", f"module '{USER_MODULE}' has no attribute 'missing'"),
    (f"{USER_MODULE}:not_a_model", "gave a int, not a torch.nn.Module"),
])
def test_a_bad_module_callable_spec_says_what_is_wrong(user_models, spec, message):
    with pytest.raises(ReverieError, match=message):
        load_model(spec)


def test_a_state_dict_file_is_loaded_with_weights(user_models, tmp_path):
    trained = load_model(f"{user_models}:build")  # random init, standing in for trained weights
    path = tmp_path / "trained.pt"
    torch.save(trained.state_dict(), path)
    fresh = load_model(f"{user_models}:build")
    assert not torch.equal(fresh[0].weight, trained[0].weight)
    model = load_model(ModelSpec(f"{user_models}:build", weights=str(path)))
    assert_ready(model)
    for name, tensor in trained.state_dict().items():
        assert torch.equal(model.state_dict()[name], tensor)
    wrapped = tmp_path / "checkpoint.pt"  # the common {"state_dict": ...} checkpoint layout
    torch.save({"state_dict": trained.state_dict(), "epoch": 3}, wrapped)
    assert torch.equal(load_model(ModelSpec(f"{user_models}:build", weights=str(wrapped)))[2].weight,
                       trained[2].weight)


class Payload:
    """Any pickled object: a weights file must never be able to make the loader run code."""


def test_weights_files_that_are_not_a_fitting_state_dict_are_refused(user_models, tmp_path):
    spec = f"{user_models}:build"
    with pytest.raises(ReverieError, match="weights file not found"):
        load_model(ModelSpec(spec, weights=str(tmp_path / "missing.pt")))
    wrong = tmp_path / "wrong.pt"
    torch.save({"0.weight": torch.zeros(4, 3, 3, 3)}, wrong)
    with pytest.raises(ReverieError, match=r"does not fit the model \(missing 0\.bias"):
        load_model(ModelSpec(spec, weights=str(wrong)))
    pickled = tmp_path / "pickled.pt"
    torch.save({"state_dict": Payload()}, pickled)
    with pytest.raises(ReverieError, match="cannot read weights file"):
        load_model(ModelSpec(spec, weights=str(pickled)))
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"\x00not a torch file")
    with pytest.raises(ReverieError, match="cannot read weights file"):
        load_model(ModelSpec(spec, weights=str(garbage)))


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # torch.jit is deprecated, still supported
@pytest.mark.parametrize("compile_", ["script", "trace"])
def test_a_torchscript_file_loads_but_is_refused_for_dreaming(tiny_cnn, tmp_path, compile_):
    example = torch.rand(1, 3, 32, 32)
    compiled = torch.jit.script(tiny_cnn) if compile_ == "script" else torch.jit.trace(tiny_cnn, example)
    path = tmp_path / "tiny.ts"
    compiled.save(str(path))
    model = load_model(str(path))
    assert_ready(model)
    with torch.no_grad():
        assert torch.allclose(model(example), tiny_cnn(example), atol=1e-6)
    # PyTorch runs no hooks inside TorchScript, so its layers cannot be recorded: say so plainly.
    with pytest.raises(ReverieError, match="TorchScript"):
        reverie.dream(example, model=model, objective="layer(features.relu3)", device="cpu")
    with pytest.raises(ReverieError, match="TorchScript"):
        dreamable_layers(model, 32)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_a_file_that_is_not_torchscript_points_to_weights(tmp_path):
    path = tmp_path / "state.pt"
    torch.save({"w": torch.zeros(1)}, path)
    with pytest.raises(ReverieError, match=r"is not a TorchScript model; for a state-dict file use .*--weights"):
        load_model(str(path))


def test_an_unknown_model_name_lists_the_nearest_names():
    with pytest.raises(ReverieError, match=r"unknown model 'efficientnet-lite9' \(nearest: .*efficientnet-lite0"):
        load_model("efficientnet-lite9")
    with pytest.raises(ReverieError, match=r"unknown model 'resnet50' \(valid: efficientnet-lite0.*module:callable"):
        load_model("resnet50")
    with pytest.raises(ReverieError, match="model file not found: missing.pt"):
        load_model("missing.pt")


def test_an_unknown_normalization_is_refused():
    with pytest.raises(ReverieError, match=r"unknown normalization 'imagenett' \(nearest: imagenet"):
        load_model(ModelSpec("efficientnet-lite0", normalize="imagenett"))


def test_dreamable_layers_lists_image_shaped_layers_with_channels_and_sizes(tiny_cnn):
    found = {info.name: (info.kind, info.channels, info.height, info.width) for info in dreamable_layers(tiny_cnn, 32)}
    assert found == {
        "features.conv1": ("Conv2d", 8, 32, 32), "features.relu1": ("ReLU", 8, 32, 32),
        "features.conv2": ("Conv2d", 16, 32, 32), "features.relu2": ("ReLU", 16, 32, 32),
        "features.pool": ("MaxPool2d", 16, 16, 16),
        "features.conv3": ("Conv2d", 24, 16, 16), "features.relu3": ("ReLU", 24, 16, 16),
        "features": ("Sequential", 24, 16, 16), "head.gap": ("AdaptiveAvgPool2d", 24, 1, 1),
    }
    assert [info.name for info in dreamable_layers(tiny_cnn, 32)][:3] == ["features.conv1", "features.relu1", "features.conv2"]
    assert sum(len(module._forward_hooks) for module in tiny_cnn.modules()) == 0


def test_dreamable_layers_of_the_embedded_model(lite0):
    found = {info.name: info for info in dreamable_layers(lite0, 224)}
    assert {f"blocks.{i}" for i in range(16)} <= set(found)
    assert (found["blocks.6"].channels, found["blocks.6"].height) == (80, 14)
    assert (found["blocks.15"].channels, found["blocks.15"].height) == (320, 7)
    assert "blocks.6.project.bn" not in found  # three levels deep: only with everything=True
    assert "blocks.6.project.conv" in {info.name for info in dreamable_layers(lite0, 64, everything=True)}


def test_dream_accepts_a_users_module_object(tiny_cnn, photo64, assert_objective_rises):
    quick = reverie.DreamSettings(octaves=2, steps=6, step_size=0.02, jitter=4, min_octave_size=32)
    result = reverie.dream(photo64, model=tiny_cnn, objective=reverie.layer("features.relu3"),
                           settings=quick, device="cpu")
    assert result.image.shape == photo64.shape
    assert result.recipe.model == "custom:TinyCNN"
    assert result.recipe.objective == "layer(features.relu3)"
    assert_objective_rises(tiny_cnn, reverie.layer("features.relu3"), photo64, result.image, factor=1.5)


def test_dream_on_a_users_model_without_an_objective_picks_a_layer(tiny_cnn, photo64):
    quick = reverie.DreamSettings(octaves=1, steps=2, jitter=4, min_octave_size=32)
    result = reverie.dream(photo64, model=tiny_cnn, settings=quick, device="cpu")
    assert result.recipe.objective.startswith("layer(features.")


def test_dream_checks_channels_against_the_users_model(tiny_cnn, photo64):
    with pytest.raises(ReverieError, match=r"channel 24 is out of range for layer features.relu3 \(valid: 0-23\)"):
        reverie.dream(photo64, model=tiny_cnn, objective="channel(features.relu3, 24)", device="cpu")


def test_input_normalization_keeps_layer_names_and_normalizes(tiny_cnn, photo32):
    names = [name for name, _ in tiny_cnn.named_modules()]
    with torch.no_grad():
        expected = tiny_cnn((photo32 - 0.5) / 0.25)
    model = with_input_normalization(tiny_cnn, (0.5, 0.5, 0.5), (0.25, 0.25, 0.25))
    assert [name for name, _ in model.named_modules()] == names
    with torch.no_grad():
        assert torch.allclose(model(photo32), expected, atol=1e-6)


def test_a_normalization_named_in_the_spec_is_applied(user_models):
    plain = load_model(f"{user_models}:build")
    normalized = load_model(ModelSpec(f"{user_models}:build", normalize="inception"))
    normalized.load_state_dict(plain.state_dict())
    image = torch.rand(1, 3, 8, 8)
    with torch.no_grad():
        assert torch.allclose(normalized(image), plain(image * 2 - 1), atol=1e-6)
