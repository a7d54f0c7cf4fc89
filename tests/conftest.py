"""Shared fixtures: a seeded tiny CNN, small images, the embedded model (built once), and helpers."""
from __future__ import annotations

import sys
from collections import OrderedDict

import pytest
import torch
from torch import nn

import reverie
from reverie.imaging import resize
from reverie.recorder import ActivationRecorder

# The suite runs on small CPUs that are often shared. With two intra-op threads on a busy two-core
# machine PyTorch's thread pool spins and a tiny forward pass becomes ~100x slower; one thread keeps
# the suite fast whatever else runs. (Subprocess runs get OMP_NUM_THREADS=1 for the same reason.)
torch.set_num_threads(1)


class TinyCNN(nn.Module):
    """conv-relu-conv-relu-pool-conv-relu, then a classifier head; named like real backbones."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(OrderedDict(
            conv1=nn.Conv2d(3, 8, 3, padding=1), relu1=nn.ReLU(),
            conv2=nn.Conv2d(8, 16, 3, padding=1), relu2=nn.ReLU(),
            pool=nn.MaxPool2d(2),
            conv3=nn.Conv2d(16, 24, 3, padding=1), relu3=nn.ReLU(),
        ))
        self.head = nn.Sequential(OrderedDict(
            gap=nn.AdaptiveAvgPool2d(1), flat=nn.Flatten(), fc=nn.Linear(24, 10),
        ))

    def forward(self, x):
        return self.head(self.features(x))


def make_tiny_cnn(seed: int = 0) -> TinyCNN:
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        model = TinyCNN()
    return reverie.models.prepare_model(model, "cpu")


@pytest.fixture
def tiny_cnn() -> TinyCNN:
    """A fresh, seeded, frozen TinyCNN in eval mode (per test, so hooks or edits never leak)."""
    return make_tiny_cnn()


@pytest.fixture(scope="session")
def photo64() -> torch.Tensor:
    """The chelsea sample photo at 64x64, [1, 3, 64, 64] in [0, 1]. Never modify it in place."""
    return resize(reverie.sample("chelsea"), (64, 64))


@pytest.fixture(scope="session")
def photo32(photo64) -> torch.Tensor:
    return resize(photo64, (32, 32))


@pytest.fixture(scope="session")
def lite0() -> nn.Module:
    """The embedded EfficientNet-Lite0, built once for the session (loads from the installed package)."""
    return reverie.load_model("efficientnet-lite0")


def objective_value(model: nn.Module, objective: reverie.Objective, image: torch.Tensor) -> float:
    with torch.no_grad(), ActivationRecorder(model, objective.layers) as recorder:
        return float(objective(recorder(image)))


def _assert_objective_rises(model, objective, before: torch.Tensor, after: torch.Tensor,
                            factor: float = 2.0) -> tuple[float, float]:
    """The objective on ``after`` is above its value on ``before`` by at least ``factor - 1`` times |before|."""
    low, high = objective_value(model, objective, before), objective_value(model, objective, after)
    assert high > low and high - low >= (factor - 1) * abs(low), (
        f"{objective.expression()} went from {low:.4g} to {high:.4g}; expected a rise of at least x{factor}"
    )
    return low, high


@pytest.fixture
def assert_objective_rises():
    return _assert_objective_rises


@pytest.fixture
def score():
    """score(model, objective, image) -> the objective's value on the image."""
    return objective_value


@pytest.fixture
def reverie_cli(monkeypatch, capsys):
    """Run the ``reverie`` console entry in-process: cli("dream", ...) -> (exit code, stdout, stderr)."""
    from reverie.cli.main import run

    def cli(*args: str) -> tuple[int, str, str]:
        capsys.readouterr()
        monkeypatch.setattr(sys, "argv", ["reverie", *map(str, args)])
        try:
            run()
            code = 0
        except SystemExit as exit_:
            code = exit_.code if isinstance(exit_.code, int) else 1
        out, err = capsys.readouterr()
        return code, out, err

    return cli


@pytest.fixture
def dead_channel_cnn(tiny_cnn):
    """tiny_cnn with channel 3 of its deepest ReLU (features.relu3) dead by 0.1 for a grey image."""
    channel = 3
    grey = torch.full((1, 3, 32, 32), 0.5)
    with torch.no_grad(), ActivationRecorder(tiny_cnn, ["features.conv3"]) as recorder:
        highest = recorder(grey)["features.conv3"][:, channel].max()
        tiny_cnn.features.conv3.bias[channel] -= highest + 0.1
    return tiny_cnn, channel
