"""Dataset examples: the photo built to excite a unit is its top example with the crop on the cause,
unreadable files are skipped and named, and the pass keeps only k entries per unit."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from reverie.atlas import build_atlas, open_atlas
from reverie.atlas.examples import crop_box, find_examples
from reverie.errors import ReverieError

from .conftest import RED_CHANNEL, small, write_photos


def colour_model() -> nn.Module:
    """One 5x5 convolution (stride 2) and a ReLU; channel RED_CHANNEL fires on pure red only."""
    with torch.random.fork_rng():
        torch.manual_seed(0)
        conv = nn.Conv2d(3, 4, 5, stride=2)
    with torch.no_grad():
        conv.weight[RED_CHANNEL] = 0
        conv.weight[RED_CHANNEL, 0] = 1 / 25     # + red
        conv.weight[RED_CHANNEL, 1:] = -1 / 25   # - green, - blue
        conv.bias[RED_CHANNEL] = -0.5
    return nn.Sequential(conv, nn.ReLU()).eval().requires_grad_(False)


@pytest.fixture
def photos(tmp_path):
    """Dull photos, one with a red spot (brightest at x 48, y 16 of 64), one text file, one broken PNG."""
    folder = tmp_path / "photos"
    write_photos(folder, count=9, side=64)
    pixels = np.asarray(Image.open(folder / "photo-4.png")).astype(float)
    y, x = np.mgrid[0:64, 0:64]
    spot = np.clip(1 - np.hypot(x - 48, y - 16) / 10, 0, 1)[..., None]          # [H, W, 1], 1 at the centre
    pixels = pixels * (1 - spot) + np.array([255.0, 0, 0]) * spot
    Image.fromarray(pixels.round().astype(np.uint8)).save(folder / "photo-4.png")
    (folder / "notes.txt").write_text("not an image")
    (folder / "broken.png").write_bytes((folder / "photo-1.png").read_bytes()[:60])
    return folder


def test_the_photo_built_to_excite_a_unit_is_its_top_example_with_the_crop_on_the_cause(photos, tmp_path):
    found = find_examples(colour_model(), photos, ["1"], side=64, top_k=3, batch=4)
    top = found.examples["1"][RED_CHANNEL]
    assert top[0].source == "photo-4.png" and top[0].score > 0.2
    assert all(example.score < 1e-6 for example in top[1:])  # nothing else is red
    left, top_, right, bottom = top[0].box
    assert abs((left + right) / 2 - 48) <= 2 and abs((top_ + bottom) / 2 - 16) <= 2  # centred on the spot

    report = build_atlas(tmp_path / "atlas", small(layers=("1",), channels=(RED_CHANNEL,), steps=2, batch=1),
                         model=colour_model(), dataset=photos, top_k=3, dataset_side=64)
    crop = open_atlas(tmp_path / "atlas").unit("1", RED_CHANNEL).examples[0].crop
    with Image.open(crop) as picture:
        red, green, blue = np.asarray(picture.convert("RGB"), dtype=float).mean(axis=(0, 1)) / 255
    assert red > 0.5 and green < 0.25 and blue < 0.25  # the crop shows the red spot (the rest: no red)
    assert set(report.skipped_files) == {"notes.txt", "broken.png"} and report.dataset_images == 9


def test_the_pass_keeps_k_per_unit_best_first_ties_to_the_earlier_file(photos):
    found = find_examples(colour_model(), photos, ["1"], side=64, top_k=2, batch=3)
    for unit in found.examples["1"]:
        assert len(unit) == 2 and unit[0].score >= unit[1].score
    zeros = found.examples["1"][RED_CHANNEL][1:]  # every other photo scores 0 on the red unit: a tie
    assert [example.source for example in zeros] == ["photo-0.png"]


def test_a_folder_with_no_readable_image_names_the_files_skipped(tmp_path):
    (tmp_path / "a.txt").write_text("x")
    (tmp_path / "b.jpg").write_bytes(b"\xff\xd8 not really")
    with pytest.raises(ReverieError, match=r"holds no readable image \(2 files skipped: a.txt, b.jpg\)"):
        find_examples(colour_model(), tmp_path, ["1"], side=32)


def test_a_crop_stays_inside_the_image():
    assert crop_box(0, 0, 7, 7, 224) == (0, 0, 128, 128)
    assert crop_box(6, 6, 7, 7, 224) == (96, 96, 224, 224)
    assert crop_box(56, 56, 112, 112, 224)[2] - crop_box(56, 56, 112, 112, 224)[0] == 28  # at least 1/8
