"""``reverie visualize`` and ``reverie interpolate`` from the command line, on the embedded model at tiny sizes."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from reverie.imaging import resize
from reverie.io.images import read_recipe_text

TINY = ["--size", "48x48", "--steps", "8", "--quiet"]
GAP = 4  # pixels between the cells of a contact sheet (reverie.imaging.grid's default)


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    """An empty current folder for the outputs."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def listing(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*"))


def pixels(path: Path) -> np.ndarray:
    with Image.open(path) as picture:
        return np.asarray(picture)


def test_alpha_writes_an_rgba_png_with_a_varying_alpha_channel(workdir, reverie_cli, lite0):
    code, out, err = reverie_cli("visualize", "--objective", "channel(blocks.3, 1)", "--alpha", "-o", "x.png",
                                 "--size", "48x48", "--steps", "16", "--quiet")
    assert code == 0, err
    with Image.open("x.png") as picture:
        assert picture.mode == "RGBA" and picture.size == (48, 48)
        alpha = np.asarray(picture)[..., 3]
    assert alpha.min() < 250 and alpha.max() > alpha.min()
    assert alpha.mean() / 255 < 0.95
    recipe = json.loads(read_recipe_text("x.png"))
    assert recipe["alpha"] is True and recipe["kind"] == "visualize"


def test_a_channel_sheet_is_one_labelled_grid_and_replays_to_the_same_pixels(workdir, reverie_cli, lite0):
    code, _, err = reverie_cli("visualize", "-l", "blocks.3", "--channels", "0-3", "-o", "sheet.png", *TINY)
    assert code == 0, err
    sheet = pixels(Path("sheet.png"))
    cell = 48
    # Four channels: a 2 x 2 grid of 48 px cells with a 4 px gap between them.
    assert sheet.shape == (2 * cell + GAP, 2 * cell + GAP, 3)
    assert (sheet[cell:cell + GAP] == 255).all() and (sheet[:, cell:cell + GAP] == 255).all()  # white gaps
    for top in (0, cell + GAP):
        for left in (0, cell + GAP):
            label = sheet[top:top + 15, left:left + 13]  # the black tag with the channel number in white
            assert (label == 0).all(axis=-1).mean() > 0.5 and (label > 200).all(axis=-1).any()
            body = sheet[top + 16:top + cell, left:left + cell].astype(float)
            assert body.std() > 2, "each cell should hold a visualization, not a flat colour"
    recipe = json.loads(read_recipe_text("sheet.png"))
    assert recipe["layer"] == "blocks.3" and recipe["channels"] == [0, 1, 2, 3]
    assert recipe["size"] == [48, 48] and recipe["settings"]["steps"] == 8

    code, _, err = reverie_cli("visualize", "--recipe", "sheet.png", "-o", "again.png", "--quiet")
    assert code == 0, err
    assert np.array_equal(pixels(Path("again.png")), sheet)
    assert json.loads(read_recipe_text("again.png"))["channels"] == [0, 1, 2, 3]


def test_interpolate_writes_numbered_frames_with_recipes_and_a_looping_gif(workdir, reverie_cli, lite0):
    code, _, err = reverie_cli("interpolate", "--from", "channel(blocks.3, 0)", "--to", "channel(blocks.3, 1)",
                               "--frames", "3", "-o", "frames", "--gif", "x.gif", "--size", "32x32", "--steps", "4",
                               "--quiet")
    assert code == 0, err
    assert listing(workdir) == ["frames", "frames/frame-0000.png", "frames/frame-0001.png", "frames/frame-0002.png",
                                "x.gif"]
    for index in range(3):
        path = Path(f"frames/frame-{index:04d}.png")
        assert pixels(path).shape == (32, 32, 3)
        recipe = json.loads(read_recipe_text(path))
        assert recipe["kind"] == "interpolate" and recipe["frames"] == 3
        assert recipe["start"] == "channel(blocks.3, 0)" and recipe["end"] == "channel(blocks.3, 1)"
    with Image.open("x.gif") as gif:
        assert gif.n_frames == 3
        assert gif.info.get("loop") == 0
        assert gif.size == (32, 32)
    import imageio.v3 as iio

    assert iio.imread("x.gif", index=None).shape[:3] == (3, 32, 32)


def test_visualize_replays_from_a_recipe_with_a_flag_overriding_it(workdir, reverie_cli, lite0):
    code, _, err = reverie_cli("visualize", "-l", "blocks.3", "-c", "2", "-o", "one.png", *TINY)
    assert code == 0, err
    assert json.loads(read_recipe_text("one.png"))["objective"] == "channel(blocks.3, 2)"
    code, _, err = reverie_cli("visualize", "--recipe", "one.png", "-o", "same.png", "--quiet")
    assert code == 0, err
    assert np.array_equal(pixels(Path("same.png")), pixels(Path("one.png")))
    code, _, err = reverie_cli("visualize", "--recipe", "one.png", "--seed", "1", "-o", "other.png", "--quiet")
    assert code == 0, err
    assert not np.array_equal(pixels(Path("other.png")), pixels(Path("one.png")))
    assert json.loads(read_recipe_text("other.png"))["seed"] == 1


VISUALIZE_MISTAKES = [
    (["--objective", "channel(blocks.3, 1)", "--param", "fftt"], "unknown param 'fftt' (nearest: fft)"),
    (["--objective", "channel(blocks.3, 1)", "--transforms", "standart"],
     "unknown transforms 'standart' (nearest: standard)"),
    (["-l", "blocks.3", "--channels", "5-2"], "bad channel range '5-2'"),
    (["-l", "blocks.3", "--channel", "999"], "channel 999 is out of range for layer blocks.3 (valid: 0-"),
    (["--objective", "channel(blocks.3, 1"], "at position"),
    (["--objective", "channel(blocks.3, 1)", "--steps", "0"], "steps must be a whole number from 1 to 100000, got 0"),
    (["--objective", "channel(blocks.3, 1)", "--lr", "-1"], "lr must be a finite number from 1e-09 to 100, got -1.0"),
    (["--objective", "channel(blocks.3, 1)", "--batch", "0"], "batch must be a whole number from 1 to 64, got 0"),
    (["--objective", "channel(blocks.3, 1)", "--alpha", "-o", "x.jpg"], "JPEG cannot hold the alpha channel"),
    (["--objective", "channel(blocks.3, 1)", "--diversity", "10"], "--diversity needs a --layer"),
    (["--objective", "channel(blocks.3, 1)", "--optimizer", "adamw"], "unknown optimizer 'adamw' (nearest: adam"),
    (["-l", "blocks.33", "--channel", "1"], "unknown layer 'blocks.33'"),
    (["--objective", "channel(blocks.3, 1)", "--size", "0x10"], "size must be positive"),
]


@pytest.mark.parametrize("arguments, message", VISUALIZE_MISTAKES, ids=[" ".join(a) for a, _ in VISUALIZE_MISTAKES])
def test_a_visualize_mistake_is_one_line_before_any_rendering_and_writes_nothing(workdir, reverie_cli, monkeypatch,
                                                                                arguments, message):
    _refuse_rendering(monkeypatch)
    if "-o" not in arguments:
        arguments = [*arguments, "-o", "x.png"]
    code, out, err = reverie_cli("visualize", *arguments)  # no --quiet: the progress bar must not get in the way
    _assert_one_line_mistake(code, out, err, message)
    assert listing(workdir) == []


INTERPOLATE_MISTAKES = [
    (["--from", "channel(blocks.3, 0)", "--to", "channel(blocks.3, 1)", "--frames", "1"],
     "frames must be a whole number from 2 to 256, got 1"),
    (["--from", "channel(blocks.3, 0)"], "give both --from and --to objectives"),
    (["--from", "channel(blocks.3, 0)", "--to", "channel(blocks.3, 1)", "--gif", "x.png"],
     "--gif needs a .gif file name"),
    (["--from", "channel(blocks.3, 0)", "--to", "channel(blocks.3 1)"], "at position"),
    (["--from", "channel(blocks.3, 0)", "--to", "channel(blocks.3, 1)", "--gif", "x.gif", "--fps", "60"],
     "fps must be above 0 and at most 50"),
    (["--from", "channel(blocks.3, 0)", "--to", "channel(blocks.3, 1)", "--optimizer", "sdg"],
     "unknown optimizer 'sdg'"),
]


@pytest.mark.parametrize("arguments, message", INTERPOLATE_MISTAKES,
                         ids=[" ".join(a) for a, _ in INTERPOLATE_MISTAKES])
def test_an_interpolate_mistake_is_one_line_before_any_rendering_and_writes_nothing(workdir, reverie_cli, monkeypatch,
                                                                                    arguments, message):
    _refuse_rendering(monkeypatch)
    code, out, err = reverie_cli("interpolate", *arguments, "-o", "frames")
    _assert_one_line_mistake(code, out, err, message)
    assert listing(workdir) == []


def _refuse_rendering(monkeypatch) -> None:
    """Make any optimisation fail loudly: every one of these mistakes must be caught before the long work."""
    import reverie.pipelines.visualize as pipeline

    def refuse(*args, **kwargs):
        raise AssertionError("rendering started before the mistake was reported")

    monkeypatch.setattr(pipeline, "render", refuse)


def _assert_one_line_mistake(code: int, out: str, err: str, message: str) -> None:
    assert code == 2, err
    assert err.startswith("reverie: error: ") and err.endswith("\n") and err.count("\n") == 1, err
    assert message in err, err
    assert "Traceback" not in err and out == ""


def test_a_cppn_rerenders_at_four_times_the_size_from_its_png(workdir, reverie_cli, lite0):
    code, _, err = reverie_cli("visualize", "--objective", "neuron(blocks.3, 5)", "--param", "cppn", "-o", "c.png",
                               "--size", "48x40", "--steps", "24", "--quiet")
    assert code == 0, err
    code, out, err = reverie_cli("render", "c.png", "--size", "192x160", "-o", "big.png")
    assert code == 0, err
    assert "192x160" in out + err
    small = torch.from_numpy(pixels(Path("c.png")).copy()).permute(2, 0, 1)[None].float() / 255
    big = torch.from_numpy(pixels(Path("big.png")).copy()).permute(2, 0, 1)[None].float() / 255
    assert big.shape == (1, 3, 160, 192)
    assert float(small.std()) > 0.02, "the CPPN should have learned a picture, not a flat colour"
    # The same picture with more samples: shrunk back it matches (a resize of an upscale would too, but
    # the re-render also holds detail between the original's pixels).
    assert float((resize(big, (40, 48)) - small).abs().mean()) < 0.02
    code, _, err = reverie_cli("render", "big.png", "--size", "48x40", "-o", "again.png")  # the network travels on
    assert code == 0, err
    assert np.abs(pixels(Path("again.png")).astype(int) - pixels(Path("c.png")).astype(int)).max() <= 1


def test_render_refuses_an_image_without_a_network_or_a_tampered_one(workdir, reverie_cli, lite0):
    from PIL import PngImagePlugin

    from reverie.io.images import NETWORK_KEY

    code, _, err = reverie_cli("visualize", "--objective", "channel(blocks.3, 1)", "-o", "fft.png", *TINY)
    assert code == 0, err
    code, _, err = reverie_cli("render", "fft.png", "--size", "96x96", "-o", "big.png")
    assert code != 0 and "carries no CPPN network" in err and len(err.strip().splitlines()) == 1
    info = PngImagePlugin.PngInfo()
    info.add_itxt(NETWORK_KEY, json.dumps({"format": "reverie-cppn", "version": 1, "layers": 10 ** 9}))
    Image.new("RGB", (8, 8)).save("bad.png", pnginfo=info)
    code, _, err = reverie_cli("render", "bad.png", "--size", "96x96", "-o", "big.png")
    assert code != 0 and "layers must be a whole number from 1 to 64" in err
    assert not Path("big.png").exists()
