"""What the atlas tests share: a tiny model made only of torch.nn classes (so a Ray worker can unpickle
it), small settings, and a session-built atlas with negatives, diversity batches and dataset examples."""
from __future__ import annotations

from collections import OrderedDict

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

import reverie
from reverie.atlas import AtlasSettings, build_atlas

LAYER = "relu3"           # the tiny model's deepest ReLU: 12 channels at half the image size
RED_CHANNEL = 2           # of the colour model: fires on pure red (tests/atlas/test_examples.py)


def tiny_features(seed: int = 0) -> nn.Module:
    """conv-relu-conv-relu-pool-conv-relu, seeded and frozen."""
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        model = nn.Sequential(OrderedDict(
            conv1=nn.Conv2d(3, 8, 3, padding=1), relu1=nn.ReLU(),
            conv2=nn.Conv2d(8, 12, 3, padding=1), relu2=nn.ReLU(),
            pool=nn.MaxPool2d(2),
            conv3=nn.Conv2d(12, 12, 3, padding=1), relu3=nn.ReLU(),
        ))
    return reverie.models.prepare_model(model, "cpu")


def small(**changes) -> AtlasSettings:
    """Eight units of relu3 at 32 px, four to a batch, 16 steps: two batches, about a second each."""
    values = {"layers": (LAYER,), "channels": tuple(range(8)), "size": 32, "steps": 16, "batch": 4}
    return AtlasSettings(**{**values, **changes})


def write_photos(folder, count: int = 6, side: int = 48, seed: int = 0) -> list[str]:
    """``count`` smooth, dull photos (greens and blues, no red) as PNGs; their file names."""
    folder.mkdir(parents=True, exist_ok=True)
    generator = np.random.default_rng(seed)
    names = []
    for index in range(count):
        base = generator.uniform(0.1, 0.5, size=(4, 4, 3)) * np.array([0.2, 1.0, 1.0])
        picture = Image.fromarray((base * 255).astype(np.uint8)).resize((side, side), Image.Resampling.BICUBIC)
        names.append(f"photo-{index}.png")
        picture.save(folder / names[-1])
    return names


@pytest.fixture(scope="session")
def built_atlas(tmp_path_factory):
    """An atlas of the tiny model with everything: negatives, diversity pairs and dataset examples."""
    root = tmp_path_factory.mktemp("atlas")
    write_photos(root / "photos")
    report = build_atlas(root / "atlas", small(negative=True, diversity=2, channels=(0, 1, 2, 3)),
                         model=tiny_features(), dataset=root / "photos", top_k=3, dataset_side=32)
    return root / "atlas", report
