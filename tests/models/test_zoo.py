"""torchvision:NAME and timm:NAME, tested on stand-in packages whose architectures carry the real module names
(torchvision and timm cannot be imported beside this machine's torch)."""
from __future__ import annotations

import json
import sys
import types

import pytest
import torch
from torch import nn

from reverie import ModelSpec, ReverieError, load_model
from reverie.models.zoo import KERAS_INCEPTION_V3
from reverie.recorder import ActivationRecorder


class Inception(nn.Module):
    """A tiny inception block: four branches concatenated, as torchvision's (1x1, 3x3, 5x5, pool)."""

    def __init__(self, channels_in: int, width: int):
        super().__init__()
        self.branch1 = nn.Conv2d(channels_in, width, 1)
        self.branch2 = nn.Conv2d(channels_in, width, 3, padding=1)
        self.branch3 = nn.Conv2d(channels_in, width, 3, padding=1)
        self.branch4 = nn.Sequential(nn.MaxPool2d(3, 1, 1), nn.Conv2d(channels_in, width, 1))

    def forward(self, x):
        return torch.relu(torch.cat([self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x)], 1))


class TinyGoogLeNet(nn.Module):
    """InceptionV1 with torchvision's module names and constructor, a few channels wide."""

    def __init__(self, aux_logits: bool = False, transform_input: bool = False, init_weights: bool = True,
                 num_classes: int = 10):
        super().__init__()
        self.aux_logits, self.transform_input = aux_logits, transform_input
        self.conv1 = nn.Conv2d(3, 8, 7, stride=2, padding=3)
        self.maxpool1 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv2 = nn.Conv2d(8, 8, 1)
        self.conv3 = nn.Conv2d(8, 8, 3, padding=1)
        self.maxpool2 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.inception3a, self.inception3b = Inception(8, 2), Inception(8, 3)
        self.maxpool3 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.inception4a, self.inception4b, self.inception4c = Inception(12, 3), Inception(12, 4), Inception(16, 5)
        self.inception4d, self.inception4e = Inception(20, 6), Inception(24, 7)
        self.maxpool4 = nn.MaxPool2d(2, 2, ceil_mode=True)
        self.inception5a, self.inception5b = Inception(28, 8), Inception(32, 9)
        self.aux1 = nn.Linear(12, num_classes) if aux_logits else None
        self.aux2 = nn.Linear(20, num_classes) if aux_logits else None
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(36, num_classes)

    def forward(self, x):
        for name in ("conv1", "maxpool1", "conv2", "conv3", "maxpool2", "inception3a", "inception3b", "maxpool3",
                     "inception4a", "inception4b", "inception4c", "inception4d", "inception4e", "maxpool4",
                     "inception5a", "inception5b", "avgpool"):
            x = getattr(self, name)(x)
        return self.fc(x.flatten(1))


@pytest.fixture
def torchvision(monkeypatch, tmp_path):
    """A stand-in torchvision whose googlenet is TinyGoogLeNet, and a torch hub cache holding its weights."""
    built = []

    def get_model(name, weights=None, **arguments):
        assert weights is None  # Reverie never asks torchvision to download
        with torch.random.fork_rng():
            torch.manual_seed(len(built))
            built.append(TinyGoogLeNet(**arguments))
        return built[-1]

    weights = types.SimpleNamespace(DEFAULT=types.SimpleNamespace(
        url="https://download.pytorch.org/models/googlenet-1378be20.pth"))
    models = types.ModuleType("torchvision.models")
    models.list_models = lambda module=None: ["googlenet", "resnet50"]
    models.get_model = get_model
    models.get_model_weights = lambda name: weights
    package = types.ModuleType("torchvision")
    package.models = models
    monkeypatch.setitem(sys.modules, "torchvision", package)
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    (tmp_path / "hub" / "checkpoints").mkdir(parents=True)
    with torch.random.fork_rng():
        torch.manual_seed(99)  # the "pretrained" weights: not what get_model initialises
        trained = TinyGoogLeNet(aux_logits=True, transform_input=True).state_dict()
    torch.save(trained, tmp_path / "hub" / "checkpoints" / "googlenet-1378be20.pth")
    return types.SimpleNamespace(trained=trained, built=built, cache=tmp_path / "hub" / "checkpoints")


def test_mixed4c_names_googlenets_inception4c(torchvision, photo64):
    model = load_model("torchvision:googlenet")
    assert torch.equal(model.conv1.weight, torchvision.trained["conv1.weight"])  # the cached weights
    assert model.aux1 is None and model.aux2 is None  # untrained heads dropped, as torchvision does
    with torch.no_grad(), ActivationRecorder(model, ["mixed4c", "inception4c", "conv2d0"]) as recorder:
        activations = recorder(photo64)
    assert torch.equal(activations["mixed4c"], activations["inception4c"])
    assert activations["mixed4c"].shape[1] == 20  # inception4c's four branches of 5
    assert torch.equal(activations["conv2d0"], model.conv1(  # ImageNet normalization, set automatically
        (photo64 - torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)) / torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)))


def test_reverie_layers_shows_the_article_names(torchvision, reverie_cli):
    code, out, err = reverie_cli("layers", "--model", "torchvision:googlenet", "--json", "--size", "64")
    assert code == 0, err
    aliases = {info["name"]: info["alias"] for info in json.loads(out)["layers"]}
    assert aliases["inception4c"] == "mixed4c" and aliases["conv1"] == "conv2d0"


def test_a_dream_on_googlenet_targets_mixed4c_by_default(torchvision, photo64):
    import reverie
    from reverie.engine.deepdream import DreamSettings

    result = reverie.dream(photo64, model="torchvision:googlenet",
                           settings=DreamSettings(octaves=1, steps=1, min_octave_size=16), device="cpu")
    assert result.recipe.objective == "layer(mixed4c)"
    assert not result.recipe.model.runs_code()  # a recipe naming it replays without the trust prompt


def test_missing_cached_weights_say_how_to_get_them(torchvision, tmp_path):
    (torchvision.cache / "googlenet-1378be20.pth").unlink()
    with pytest.raises(ReverieError, match="Reverie downloads nothing.*--weights"):
        load_model("torchvision:googlenet")
    path = tmp_path / "mine.pt"
    torch.save(torchvision.trained, path)
    model = load_model(ModelSpec("torchvision:googlenet", weights=str(path)))
    assert torch.equal(model.fc.weight, torchvision.trained["fc.weight"])


def test_an_unknown_torchvision_name_lists_the_nearest(torchvision):
    with pytest.raises(ReverieError, match="unknown torchvision model 'googlenett' .*googlenet"):
        load_model("torchvision:googlenett")


@pytest.mark.parametrize("spec, package", [("torchvision:googlenet", "torchvision"), ("timm:vit_tiny", "timm")])
def test_a_zoo_that_is_not_installed_says_what_to_install(monkeypatch, spec, package):
    monkeypatch.setitem(sys.modules, package, None)  # import fails as for a missing package
    with pytest.raises(ReverieError, match=f"pip install {package}"):
        load_model(spec)


def test_timm_models_use_their_own_normalization(monkeypatch, tmp_path, photo64):
    class Tiny(nn.Module):
        pretrained_cfg = {"mean": (0.5, 0.5, 0.5), "std": (0.25, 0.25, 0.25), "hf_hub_id": "timm/tiny"}

        def __init__(self):
            super().__init__()
            self.stem = nn.Conv2d(3, 4, 3, padding=1)

        def forward(self, x):
            return self.stem(x)
    timm = types.ModuleType("timm")
    timm.is_model = lambda name: name == "tiny"
    timm.list_models = lambda: ["tiny"]
    timm.create_model = lambda name, pretrained=False: Tiny()
    monkeypatch.setitem(sys.modules, "timm", timm)
    weights = tmp_path / "tiny.pth"
    torch.save(Tiny().state_dict(), weights)
    model = load_model(ModelSpec("timm:tiny", weights=str(weights)))
    with torch.no_grad(), ActivationRecorder(model, ["stem"]) as recorder:
        recorded = recorder(photo64)["stem"]
    assert torch.allclose(recorded, model.stem((photo64 - 0.5) / 0.25), atol=1e-6)
    with pytest.raises(ReverieError, match="write timm:NAME"):
        load_model("timm:hf-hub:someone/model")


def test_keras_inception_v3_names_follow_torchvisions_forward_order():
    # mixed0-2: 35x35 blocks, mixed3: reduction, mixed4-7: 17x17, mixed8: reduction, mixed9-10: 8x8
    assert [KERAS_INCEPTION_V3[f"mixed{index}"] for index in (0, 3, 4, 5, 7, 8, 10)] == [
        "Mixed_5b", "Mixed_6a", "Mixed_6b", "Mixed_6c", "Mixed_6e", "Mixed_7a", "Mixed_7c"]
