"""Building an atlas locally: every unit's PNG replays to its own pixels, the manifest matches the files,
a killed build resumes to the same atlas, dead units are flagged, and bad input is one line."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
import torch
from PIL import Image

import reverie
from reverie.atlas import build_atlas, open_atlas
from reverie.atlas.manifest import PARTS
from reverie.recorder import ActivationRecorder

from .conftest import LAYER, small, tiny_features

HERE = Path(__file__).resolve().parent


def pixels(path: Path) -> np.ndarray:
    with Image.open(path) as picture:
        return np.asarray(picture.convert("RGB"))


def tree(folder: Path) -> dict[str, bytes]:
    return {str(path.relative_to(folder)): path.read_bytes() for path in sorted(folder.rglob("*")) if path.is_file()}


def test_every_units_png_replays_to_its_own_pixels(built_atlas, tmp_path):
    folder, _ = built_atlas
    unit = open_atlas(folder).unit(LAYER, 1)  # the second item of its batch: the others ride along
    for path in (unit.image, unit.negative, unit.diversity):
        replay = reverie.run(reverie.read_recipe(path), model=tiny_features())
        replay.save(tmp_path / "replay.png")
        assert np.array_equal(pixels(tmp_path / "replay.png"), pixels(path)), path.name


def test_the_manifest_rows_match_the_files_on_disk(built_atlas):
    folder, report = built_atlas
    rows = pq.read_table(folder / "manifest.parquet").to_pylist()
    assert [(row["layer"], row["unit"]) for row in rows] == [(LAYER, unit) for unit in range(4)]
    named = set()
    model = tiny_features()
    for row in rows:
        files = [row["image"], row["negative_image"], row["diversity_image"]] + [e["crop"] for e in row["examples"]]
        assert all((folder / name).is_file() for name in files), row
        assert row["key"] in row["image"] and len(row["examples"]) == 3
        named.update(files)
        # The activation the manifest states is the unit's on the saved file.
        image = torch.from_numpy(pixels(folder / row["image"]).copy()).permute(2, 0, 1)[None].float() / 255
        with torch.no_grad(), ActivationRecorder(model, [LAYER]) as recorder:
            measured = float(recorder(image)[LAYER][0, row["unit"]].mean())
        assert measured == pytest.approx(row["activation"], rel=1e-5, abs=1e-7)
    on_disk = {str(path.relative_to(folder)) for path in folder.rglob("*") if path.suffix in (".png", ".jpg")}
    assert on_disk == named  # no stray image, none missing
    assert report.rendered == 4 * 3 and not (folder / PARTS).exists()  # parts compacted


KILLED_BUILD = """
import sys, torch
torch.set_num_threads(1)
sys.path.insert(0, {tests!r})
from atlas.conftest import small, tiny_features
from reverie.atlas import build_atlas
build_atlas({folder!r}, small(channels=tuple(range(8)), batch=2, steps=20), model=tiny_features())
"""


def test_a_killed_build_resumes_to_the_same_atlas_rendering_only_what_was_missing(tmp_path):
    settings = small(channels=tuple(range(8)), batch=2, steps=20)
    killed = tmp_path / "killed"
    script = KILLED_BUILD.format(tests=str(HERE.parent), folder=str(killed))
    environment = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": os.pathsep.join(sys.path)}
    process = subprocess.Popen([sys.executable, "-c", script], env=environment)
    try:
        deadline = time.monotonic() + 120
        while not any((killed / PARTS).glob("*.parquet")):  # the first finished batch
            assert process.poll() is None and time.monotonic() < deadline, "the build ended before it was killed"
            time.sleep(0.01)
        os.kill(process.pid, signal.SIGKILL)
    finally:
        process.wait()

    resumed = build_atlas(killed, settings, model=tiny_features())
    assert 0 < resumed.reused < resumed.total and resumed.rendered == resumed.total - resumed.reused
    uninterrupted = build_atlas(tmp_path / "whole", settings, model=tiny_features())
    assert uninterrupted.rendered == uninterrupted.total == 8
    assert tree(killed) == tree(tmp_path / "whole")


def test_a_dead_unit_is_flagged_dead_and_grey_and_live_ones_are_not(tmp_path):
    model = tiny_features()
    with torch.no_grad():  # channel 5 of relu3 can never fire: no weight, negative bias
        model.conv3.weight[5] = 0
        model.conv3.bias[5] = -1
    report = build_atlas(tmp_path / "atlas", small(steps=24), model=model)
    assert 5 in report.flagged[LAYER]
    atlas = open_atlas(tmp_path / "atlas")
    dead = atlas.unit(LAYER, 5)
    assert dead.dead and dead.grey and dead.gain == 0
    live = atlas.unit(LAYER, 1)  # measured: its visualization lifts it about 20 % above flat grey
    assert not live.dead and not live.grey and 1 not in report.flagged[LAYER]


def test_an_atlas_of_another_model_is_refused_unless_forced(tmp_path):
    build_atlas(tmp_path / "atlas", small(channels=(0,), steps=2), model=tiny_features(seed=0))
    with pytest.raises(reverie.ReverieError, match="holds the atlas of another model.*--force"):
        build_atlas(tmp_path / "atlas", small(channels=(0,), steps=2), model=tiny_features(seed=1))
    report = build_atlas(tmp_path / "atlas", small(channels=(0,), steps=2), model=tiny_features(seed=1), force=True)
    assert report.rendered == 1


@pytest.mark.parametrize(("arguments", "message"), [
    (["--layers", "blocks.55"], "unknown layer 'blocks.55' (nearest: blocks.5"),
    (["--layers", "blocks.2", "--channels", "20-30"], "layer blocks.2 has 24 channels (0-23); --channels asks for 24"),
    (["--layers", "blocks.2", "--dataset", "empty"], "dataset folder empty holds no files"),
    (["--layers", "blocks.2", "--executor", "local", "--address", "auto"], "--address only mean"),
    (["--layers", "blocks.2", "--executor", "ray", "--address", "127.0.0.1:1"], "cannot reach Ray at 127.0.0.1:1"),
])
def test_bad_input_is_one_line_exit_2_and_writes_nothing(tmp_path, monkeypatch, reverie_cli, arguments, message):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "empty").mkdir()
    code, _, err = reverie_cli("atlas", "build", "-o", "out", "--size", "32", "--steps", "2", "--device", "cpu",
                               *arguments)
    assert code == 2 and err.count("\n") == 1 and message in err, err
    assert not (tmp_path / "out").exists()


def test_without_pyarrow_the_build_says_what_to_install(tmp_path, monkeypatch, reverie_cli):
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # import pyarrow now raises ImportError
    code, _, err = reverie_cli("atlas", "build", "-o", str(tmp_path / "out"), "--layers", "blocks.2")
    assert code == 2 and "pip install 'reverie[atlas]'" in err and err.count("\n") == 1


def test_the_cli_refuses_a_folder_holding_another_models_atlas(tmp_path, reverie_cli):
    build_atlas(tmp_path / "atlas", small(channels=(0,), steps=2), model=tiny_features())
    code, _, err = reverie_cli("atlas", "build", "-o", str(tmp_path / "atlas"), "--layers", "blocks.2",
                               "--channels", "0", "--size", "32", "--steps", "2", "--device", "cpu")
    assert code == 2 and "holds the atlas of another model" in err and "--force" in err


def test_batch_0_renders_at_the_measured_batch_and_a_resumed_build_keeps_it(tmp_path, monkeypatch):
    import json

    import reverie.atlas.build as building
    measured = iter([3, 5])  # a second measure would disagree: the stored number must win
    monkeypatch.setattr(building, "measured_batch", lambda *args: next(measured))
    settings = small(channels=tuple(range(4)), batch=0, steps=2)
    first = build_atlas(tmp_path / "atlas", settings, model=tiny_features())
    assert json.loads((tmp_path / "atlas" / "atlas.json").read_text())["settings"]["batch"] == 3
    again = build_atlas(tmp_path / "atlas", settings, model=tiny_features())
    assert again.reused == again.total == first.total and again.rendered == 0
