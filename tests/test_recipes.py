"""Recipes: every output image carries one, ``reverie info`` shows it, and it replays to the same pixels."""
from __future__ import annotations

import json
import sys
import textwrap

import numpy as np
import pytest
from PIL import Image

import reverie
from reverie import DreamRecipe, DreamSettings, ReverieError
from reverie import InterpolateRecipe, VisualizeRecipe
from reverie.io.images import read_recipe_text

# The embedded model on a small picture: quick, and still a real dream.
SMALL = ["--size", "64x48", "--octaves", "2", "--steps", "2", "--quiet"]


def pixels(path) -> np.ndarray:
    with Image.open(path) as picture:
        return np.asarray(picture.convert("RGB"))


@pytest.fixture(scope="module")
def small_dream(lite0):
    settings = DreamSettings(octaves=2, steps=2, step_size=0.02, jitter=8, tile=256, min_octave_size=40)
    return reverie.dream("coffee", model="efficientnet-lite0", objective="layer(blocks.6) - 0.5*channel(blocks.9, 7)",
                         settings=settings, seed=11, size=(56, 40), device="cpu")


@pytest.mark.parametrize("extension", [".png", ".jpg", ".webp"])
def test_a_saved_image_carries_its_full_recipe(small_dream, tmp_path, extension):
    path = small_dream.save(tmp_path / f"dream{extension}")
    recipe = DreamRecipe.from_json(read_recipe_text(path))
    assert recipe == small_dream.recipe
    assert recipe.model == reverie.ModelSpec("efficientnet-lite0")
    assert not recipe.model.trusted  # read from a file: it may not run code
    assert recipe.objective == "layer(blocks.6) - 0.5*channel(blocks.9, 7)"
    assert recipe.settings == DreamSettings(octaves=2, steps=2, step_size=0.02, jitter=8, tile=256, min_octave_size=40)
    assert (recipe.seed, recipe.source, recipe.size) == (11, "sample:coffee", (56, 40))
    assert recipe.version == reverie.__version__
    with Image.open(path) as picture:
        assert picture.size == (56, 40)


def test_saving_leaves_only_the_finished_file(small_dream, tmp_path):
    small_dream.save(tmp_path / "out" / "dream.png")  # the folder is created; no temporary file remains
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*")) == ["out", "out/dream.png"]


def test_a_recipe_survives_json_round_trip(small_dream):
    assert DreamRecipe.from_json(small_dream.recipe.to_json()) == small_dream.recipe


def test_info_prints_the_recipe(small_dream, tmp_path, reverie_cli):
    path = small_dream.save(tmp_path / "dream.png")
    code, out, err = reverie_cli("info", path)
    assert code == 0, err
    shown = json.loads(out)
    assert shown["objective"] == "layer(blocks.6) - 0.5*channel(blocks.9, 7)"
    assert shown["settings"]["octaves"] == 2 and shown["seed"] == 11 and shown["version"] == reverie.__version__


def test_info_on_an_image_without_a_recipe_says_so(tmp_path, reverie_cli):
    path = tmp_path / "plain.png"
    Image.new("RGB", (8, 8)).save(path)
    code, _, err = reverie_cli("info", path)
    assert code == 2
    assert err.strip() == f"reverie: error: {path} carries no Reverie recipe " \
                          "(was it made by Reverie, and not re-saved by another program?)"


def test_replaying_a_recipe_gives_identical_pixels(tmp_path, reverie_cli, lite0):
    first, replay = tmp_path / "first.png", tmp_path / "replay.png"
    code, _, err = reverie_cli("dream", "--sample", "chelsea", "-o", first, "--layer", "blocks.6", "--seed", "3", *SMALL)
    assert code == 0, err
    code, _, err = reverie_cli("dream", "--recipe", first, "-o", replay, "--quiet")
    assert code == 0, err
    assert np.array_equal(pixels(replay), pixels(first))
    assert read_recipe_text(replay) == read_recipe_text(first)
    assert pixels(first).shape == (48, 64, 3)
    # Flags override the recipe: another seed is another dream.
    other = tmp_path / "other.png"
    assert reverie_cli("dream", "--recipe", first, "-o", other, "--seed", "4", "--quiet")[0] == 0
    assert not np.array_equal(pixels(other), pixels(first))
    assert json.loads(read_recipe_text(other))["seed"] == 4


def test_replay_refuses_an_input_file_that_changed(tmp_path, reverie_cli, lite0, monkeypatch):
    monkeypatch.chdir(tmp_path)
    photo = tmp_path / "photo.png"
    reverie.to_pil(reverie.imaging.resize(reverie.sample("astronaut"), (40, 40))).save(photo)
    first = tmp_path / "first.png"
    code, _, err = reverie_cli("dream", "photo.png", "-o", first, "--octaves", "1", "--steps", "1", "--quiet")
    assert code == 0, err
    assert json.loads(read_recipe_text(first))["source_sha256"] is not None
    Image.new("RGB", (40, 40), "red").save(photo)
    code, _, err = reverie_cli("dream", "--recipe", first, "-o", tmp_path / "again.png", "--quiet")
    assert code == 2
    assert "differs from the file the recipe was made from (sha256 mismatch)" in err
    assert not (tmp_path / "again.png").exists()


SENTINEL_MODULE = "reverie_test_recipe_models"


def test_a_recipe_never_imports_code_unless_the_model_is_given(tmp_path, reverie_cli, monkeypatch):
    sentinel = tmp_path / "imported"
    (tmp_path / f"{SENTINEL_MODULE}.py").write_text(textwrap.dedent(f'''
        import pathlib
        from torch import nn
        pathlib.Path({str(sentinel)!r}).write_text("imported")
        def build():
            return nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 4, 3, padding=1), nn.ReLU())
    '''))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, SENTINEL_MODULE, raising=False)
    recipe = DreamRecipe(source="noise", size=(40, 40), model=f"{SENTINEL_MODULE}:build", objective="layer(3)",
                         settings=DreamSettings(octaves=1, steps=2, min_octave_size=32), seed=1)
    recipe_file = tmp_path / "stranger.json"
    recipe_file.write_text(recipe.to_json())

    code, _, err = reverie_cli("dream", "--recipe", recipe_file, "-o", tmp_path / "out.png", "--quiet")
    assert code == 2
    assert err.strip() == (f"reverie: error: the recipe's model '{SENTINEL_MODULE}:build' could run code (an import or a pickled file); "
                           "name it yourself (--model, or model= in Python) to confirm you trust it")
    assert not sentinel.exists() and SENTINEL_MODULE not in sys.modules
    assert not (tmp_path / "out.png").exists()

    code, _, err = reverie_cli("dream", "--recipe", recipe_file, "--model", f"{SENTINEL_MODULE}:build",
                               "-o", tmp_path / "out.png", "--quiet")
    assert code == 0, err
    assert sentinel.exists() and (tmp_path / "out.png").exists()
    sys.modules.pop(SENTINEL_MODULE, None)


@pytest.mark.parametrize("text, message", [
    ("{not json", "recipe is not valid JSON"),
    ("[1, 2]", "recipe must be a JSON object"),
    ('{"colour": "blue"}', r"recipe has unknown field\(s\) colour \(valid: .*objective"),
    ('{"settings": {"octaves": 2, "warp": 9}}', r"unknown field\(s\) warp \(valid: octaves"),
    ('{"settings": {"octaves": "many"}}', "'octaves' must be int, got 'many'"),
    ('{"settings": {"octaves": 0}}', "octaves must be a whole number from 1 to 64, got 0"),
    ('{"settings": {"step_size": true}}', "'step_size' must be float, got True"),
    ('{"settings": {"step_size": 1e999}}', "'step_size' must be finite"),
    ('{"settings": [1]}', "'settings' must be a JSON object"),
    ('{"seed": 1.5}', "'seed' must be int, got 1.5"),
    ('{"model": ["x"]}', "recipe field 'model' must be a JSON object"),
    ('{"model": {"name": 7}}', "'name' must be str, got 7"),
    ('{"size": [64, -1]}', r"dream size must be a positive \[width, height\]"),
    ('{"size": [100000, 100000]}', r"dream size must be a positive \[width, height\] of at most 16384x16384"),
    ('{"size": [64]}', "'size' must have 2 items"),
    ('{"kind": "render"}', "recipe is for 'render', not 'dream'"),
])
def test_a_broken_recipe_is_refused_with_the_reason(text, message):
    with pytest.raises(ReverieError, match=message):
        DreamRecipe.from_json(text)


def test_a_broken_recipe_file_is_one_line_on_the_command_line(tmp_path, reverie_cli):
    broken = tmp_path / "broken.json"
    broken.write_text('{"settings": {"octaves": 2}, "colour": "blue"}')
    code, out, err = reverie_cli("dream", "--recipe", broken, "-o", tmp_path / "out.png", "--quiet")
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("reverie: error: recipe has unknown field(s) colour")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["broken.json"]


def test_a_relative_input_path_is_found_next_to_the_recipe_on_replay(tmp_path, reverie_cli, lite0, monkeypatch):
    made, elsewhere = tmp_path / "made", tmp_path / "elsewhere"
    made.mkdir()
    elsewhere.mkdir()
    reverie.to_pil(reverie.imaging.resize(reverie.sample("astronaut"), (40, 40))).save(made / "photo.png")
    monkeypatch.chdir(made)
    code, _, err = reverie_cli("dream", "photo.png", "-o", "first.png", "--octaves", "1", "--steps", "1", "--quiet")
    assert code == 0, err
    assert json.loads(read_recipe_text(made / "first.png"))["source"] == "photo.png"

    monkeypatch.chdir(elsewhere)  # no photo.png here: it is found beside ../made/first.png
    code, _, err = reverie_cli("dream", "--recipe", "../made/first.png", "-o", "replay.png", "--quiet")
    assert code == 0, err
    assert err.startswith("reading source ../made/photo.png (named by the recipe)\n")  # said before it is read
    assert np.array_equal(pixels(elsewhere / "replay.png"), pixels(made / "first.png"))
    replayed = json.loads(read_recipe_text(elsewhere / "replay.png"))
    assert replayed["source"] == "photo.png"  # kept as given: never made absolute
    assert str(tmp_path) not in read_recipe_text(elsewhere / "replay.png")

    (made / "photo.png").rename(made / "moved.png")
    code, _, err = reverie_cli("dream", "--recipe", "../made/first.png", "-o", "again.png", "--quiet")
    assert code == 2 and err.count("\n") == 1
    assert "the recipe's source (photo.png) is not in the recipe's folder ../made; name the file yourself " \
           "(INPUT) to use it" in err
    assert not (elsewhere / "again.png").exists()


@pytest.mark.parametrize("kind, text, message", [
    (VisualizeRecipe, '{"size": [5000, 5000]}',
     r"visualize size must be a positive \[width, height\] of at most 4096x4096 pixels, got \[5000, 5000\]"),
    (VisualizeRecipe, '{"size": [0, 64]}', r"visualize size must be a positive \[width, height\]"),
    (VisualizeRecipe, '{"batch": 0}', "batch must be a whole number from 1 to 64, got 0"),
    (VisualizeRecipe, '{"batch": 65}', "batch must be a whole number from 1 to 64, got 65"),
    (VisualizeRecipe, '{"channels": [-1]}', "channels must be a whole number from 0 to 100000, got -1"),
    (VisualizeRecipe, '{"channels": ' + str(list(range(4097))) + '}', "channels must have at most 4096 items, got 4097"),
    (InterpolateRecipe, '{"size": [4097, 4096]}', r"interpolate size must be a positive \[width, height\] of at most 4096x4096"),
    (InterpolateRecipe, '{"size": [-1, 64]}', r"interpolate size must be a positive \[width, height\]"),
    (InterpolateRecipe, '{"frames": 1}', "frames must be a whole number from 2 to 256, got 1"),
    (InterpolateRecipe, '{"frames": 257}', "frames must be a whole number from 2 to 256, got 257"),
])
def test_visualize_and_interpolate_recipes_are_capped(kind, text, message):
    with pytest.raises(ReverieError, match=message):
        kind.from_json(text)


def test_visualize_and_interpolate_recipes_within_the_caps_are_accepted():
    assert VisualizeRecipe.from_json('{"size": [4096, 4096], "batch": 64}').batch == 64
    assert VisualizeRecipe.from_json('{"batch": 1, "channels": [0, 4095]}').channels == (0, 4095)
    assert InterpolateRecipe.from_json('{"size": [64, 32], "frames": 256}').frames == 256
    assert InterpolateRecipe.from_json('{"frames": 2}').frames == 2


def test_a_field_added_later_reads_as_the_old_behaviour_from_an_older_file():
    from dataclasses import dataclass

    from reverie.fields import option
    from reverie.recipe import Recipe

    @dataclass(frozen=True)
    class LaterRecipe(Recipe):
        KIND = ""  # not registered: a test-only recipe
        crop: bool = option(True, "a later field whose new default changes pixels", absent=False)

    old = LaterRecipe.from_json('{"seed": 3}')
    assert old.crop is False and old.seed == 3
    assert LaterRecipe.from_json(LaterRecipe(seed=3).to_json()).crop is True
    assert '"crop": true' in LaterRecipe().to_json()


def test_task_recipes_still_import_from_reverie_recipe():
    # They lived there before the task API; scripts (and the shared peers benchmark) import them so.
    from reverie.pipelines.visualize import VisualizeRecipe as defined
    from reverie.recipe import DreamRecipe, VisualizeRecipe
    assert VisualizeRecipe is defined and DreamRecipe.KIND == "dream"
    with pytest.raises(ImportError):
        from reverie.recipe import NoSuchRecipe  # noqa: F401
