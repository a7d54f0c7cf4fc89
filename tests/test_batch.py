"""Dreaming a folder of photos: one output per photo with the pixels of a single dream, resumable,
unreadable files named and skipped, and the command line's folder form."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

import reverie
from reverie import DreamRecipe, DreamSettings
from reverie.batch import dream_folder, output_names

from .atlas.conftest import tiny_features, write_photos

RECIPE = DreamRecipe(model="live:Sequential", objective="layer(relu3)", settings=DreamSettings(steps=2, octaves=1))


def pixels(path) -> np.ndarray:
    with Image.open(path) as picture:
        return np.asarray(picture.convert("RGB"))


@pytest.fixture
def photos(tmp_path):
    folder = tmp_path / "photos"
    write_photos(folder, count=3, side=32)
    (folder / "broken.png").write_bytes(b"\x89PNG not really")
    return folder


def test_each_photo_gets_the_dream_a_single_run_gives(photos, tmp_path):
    report = dream_folder(photos, tmp_path / "out", RECIPE, model=tiny_features())
    assert sorted(path.name for path in report.dreamed) == ["photo-0.png", "photo-1.png", "photo-2.png"]
    assert len(report.skipped) == 1 and "broken.png" in report.skipped[0]
    single = reverie.run(reverie.DreamRecipe(**{**RECIPE.__dict__, "source": str(photos / "photo-1.png")}),
                         model=tiny_features())
    single.save(tmp_path / "single.png")
    assert np.array_equal(pixels(tmp_path / "single.png"), pixels(tmp_path / "out" / "photo-1.png"))
    assert reverie.read_recipe(tmp_path / "out" / "photo-1.png").source_sha256 == single.recipe.source_sha256


def test_a_second_run_dreams_only_what_is_missing_or_changed(photos, tmp_path):
    dream_folder(photos, tmp_path / "out", RECIPE, model=tiny_features())
    (tmp_path / "out" / "photo-0.png").unlink()
    write_photos(tmp_path / "other", count=1, side=32, seed=7)
    (photos / "photo-2.png").write_bytes((tmp_path / "other" / "photo-0.png").read_bytes())  # a changed photo
    report = dream_folder(photos, tmp_path / "out", RECIPE, model=tiny_features())
    assert sorted(path.name for path in report.dreamed) == ["photo-0.png", "photo-2.png"]
    assert [path.name for path in report.reused] == ["photo-1.png"]


def test_photos_that_would_share_an_output_name_keep_their_suffixes(tmp_path):
    names = output_names(tmp_path, [tmp_path / "a" / "cat.jpg", tmp_path / "cat.jpg", tmp_path / "cat.webp"])
    assert names == ["a/cat.png", "cat.jpg.png", "cat.webp.png"]


@pytest.mark.parametrize(("arguments", "message"), [
    (["photos", "-o", "dreams.png"], "for a folder of photos, -o names a folder, not an image (dreams.png)"),
    (["photos/photo-0.png", "--executor", "ray"], "--executor only work with a folder of photos as INPUT"),
    (["empty", "-o", "out"], "empty holds no photos"),
])
def test_folder_mistakes_are_one_line(photos, tmp_path, monkeypatch, reverie_cli, arguments, message):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "empty").mkdir()
    code, _, err = reverie_cli("dream", *arguments, "--steps", "1", "--octaves", "1", "-q")
    assert code == 2 and message in err and err.count("\n") == 1, err
