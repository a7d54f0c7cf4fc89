"""The ``reverie`` command: a dream end to end, layer listing, and one clean line for every mistake."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import reverie
from reverie.imaging import resize
from reverie.io.images import read_recipe_text

REVERIE = Path(sys.executable).parent / "reverie"  # the installed console script
QUICK = ["--octaves", "1", "--steps", "2", "--quiet"]


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    """A folder with a small photo, a garbage .png, a truncated PNG and a plain file; also the cwd."""
    photo = reverie.to_pil(resize(reverie.sample("chelsea"), (40, 48)))
    photo.save(tmp_path / "photo.png")
    (tmp_path / "garbage.png").write_bytes(b"this is not an image\n" * 20)
    whole = (tmp_path / "photo.png").read_bytes()
    (tmp_path / "truncated.png").write_bytes(whole[: len(whole) // 2])
    (tmp_path / "notes.txt").write_text("a file, not a folder")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def listing(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*"))


def run_console_script(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}  # see conftest: one thread keeps busy CPUs fast
    return subprocess.run([str(REVERIE), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def test_the_console_script_dreams_a_photo_end_to_end(workdir):
    result = run_console_script("dream", "photo.png", "-o", "out/dream.png", "--layer", "blocks.6",
                                "--octaves", "2", "--steps", "2", cwd=workdir)  # with the progress bar
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert "wrote out/dream.png (48x40, objective layer(blocks.6))" in result.stderr
    with Image.open(workdir / "out" / "dream.png") as picture:
        assert picture.size == (48, 40)
        dreamed = np.asarray(picture.convert("RGB"), dtype=np.float32)
    with Image.open(workdir / "photo.png") as picture:
        original = np.asarray(picture.convert("RGB"), dtype=np.float32)
    assert np.abs(dreamed - original).mean() > 1.0  # changed by more than a level on average
    recipe = json.loads(read_recipe_text(workdir / "out" / "dream.png"))
    assert recipe["source"] == "photo.png" and recipe["objective"] == "layer(blocks.6)"
    assert listing(workdir / "out") == ["dream.png"]


def test_the_console_script_reports_a_mistake_in_one_line(workdir):
    before = listing(workdir)
    result = run_console_script("dream", "missing.png", "-o", "dream.png", *QUICK, cwd=workdir)
    assert result.returncode == 2
    assert result.stderr == "reverie: error: input image not found: missing.png\n"
    assert result.stdout == ""
    assert listing(workdir) == before


def test_the_console_script_reports_usage_errors_without_a_traceback(workdir):
    result = run_console_script("dream", "--bogus", cwd=workdir)
    assert result.returncode == 2
    assert "No such option: --bogus" in result.stderr and "Traceback" not in result.stderr


BAD_INPUTS = [
    (["missing.png"], "input image not found: missing.png"),
    (["garbage.png"], "cannot read image garbage.png: not an image file PIL can decode"),
    (["truncated.png"], "cannot read image truncated.png: the file is corrupt or truncated"),
    (["notes.txt"], "cannot read image notes.txt: not an image file PIL can decode"),
    (["--sample", "dog"], "unknown sample 'dog' (valid: chelsea, coffee, astronaut, rocket)"),
    (["photo.png", "--noise"], "give only one of INPUT, --sample and --noise"),
    (["photo.png", "--model", "efficientnet-lite9"], "unknown model 'efficientnet-lite9' (nearest: efficientnet-lite"),
    (["photo.png", "--model", "nosuchmodel"], "unknown model 'nosuchmodel' (valid: efficientnet-lite0"),
    (["photo.png", "--model", "reverie_no_such_module:build"], "cannot import module 'reverie_no_such_module'"),
    (["photo.png", "--layer", "blocks.55"], "unknown layer 'blocks.55' (nearest: blocks.5, "),
    (["photo.png", "--layer", "blocks.6", "--channel", "80"],
     "channel 80 is out of range for layer blocks.6 (valid: 0-79)"),
    (["photo.png", "--channel", "3"], "--channel needs a --layer (or write --channel LAYER:INDEX)"),
    (["photo.png", "--layer", "blocks.6", "--objective", "layer(blocks.9)"],
     "give either --objective or --layer/--channel, not both"),
    (["photo.png", "--objective", "layer(blocks.6"], "expected ',' or ')'"),
    (["photo.png", "--steps", "0"], "steps must be a positive whole number, got 0"),
    (["photo.png", "--steps", "-3"], "steps must be a positive whole number, got -3"),
    (["photo.png", "--octaves", "0"], "octaves must be a positive whole number, got 0"),
    (["photo.png", "--tile", "0"], "tile must be a positive whole number, got 0"),
    (["photo.png", "--step-size", "-0.1"], "step-size must be a positive number, got -0.1"),
    (["photo.png", "--size", "0x10"], "size must be positive, got '0x10'"),
    (["photo.png", "--size", "big"], "size must be WIDTHxHEIGHT in pixels"),
    (["photo.png", "--device", "tpu"], "unknown device 'tpu'"),
    (["photo.png", "--weights", "missing.pt"], "weights file not found: missing.pt"),
    (["photo.png", "--recipe", "missing.png"], "recipe file not found: missing.png"),
    (["photo.png", "--recipe", "photo.png"], "photo.png carries no Reverie recipe"),
    (["photo.png", "-o", "dream.gif"], "unsupported output format '.gif' (valid: .png, .jpg, .jpeg, .webp)"),
    (["photo.png", "-o", "dream"], "unsupported output format 'dream'"),
    (["photo.png", "-o", "notes.txt/dream.png"], "cannot create output folder notes.txt"),
]


@pytest.mark.parametrize("arguments, message", BAD_INPUTS, ids=[" ".join(a) for a, _ in BAD_INPUTS])
def test_a_mistake_is_one_line_with_the_reason_and_writes_nothing(workdir, reverie_cli, arguments, message):
    before = listing(workdir)
    if not any(a == "-o" for a in arguments):
        arguments = [*arguments, "-o", "dream.png"]
    code, out, err = reverie_cli("dream", *QUICK, *arguments)  # the case's flags come last and win
    assert code == 2
    assert err.startswith("reverie: error: ") and err.endswith("\n") and err.count("\n") == 1, err
    assert message in err
    assert "Traceback" not in err and out == ""
    assert listing(workdir) == before  # no output, no temporary or probe files


def test_an_unwritable_output_folder_is_reported(workdir, reverie_cli):
    # Root may write anywhere chmod forbids, but nobody can create files in sysfs.
    if not Path("/sys/kernel").is_dir():
        pytest.skip("needs Linux sysfs as a folder nobody can write to")
    code, _, err = reverie_cli("dream", "photo.png", "-o", "/sys/dream.png", *QUICK)
    assert code == 2 and err.count("\n") == 1
    assert err.startswith("reverie: error: output folder is not writable: /sys")


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_output_folder_is_reported(workdir, reverie_cli):
    locked = workdir / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        code, _, err = reverie_cli("dream", "photo.png", "-o", "locked/dream.png", *QUICK)
    finally:
        locked.chmod(0o700)
    assert code == 2 and "output folder is not writable: locked" in err
    assert listing(locked) == []


def test_a_missing_output_folder_is_created(workdir, reverie_cli, lite0):
    code, _, err = reverie_cli("dream", "photo.png", "-o", "new/deeper/dream.jpg", "--layer", "blocks.3", *QUICK)
    assert code == 0, err
    assert listing(workdir / "new") == ["deeper", "deeper/dream.jpg"]
    with Image.open(workdir / "new" / "deeper" / "dream.jpg") as picture:
        assert (picture.format, picture.size) == ("JPEG", (48, 40))


def test_layer_and_channel_flags_become_the_objective(workdir, reverie_cli, lite0):
    code, _, err = reverie_cli("dream", "photo.png", "-o", "dream.png", "--layer", "blocks.6=0.5",
                               "--layer", "blocks.9", "--channel", "blocks.9:7", "--channel", "blocks.9:12", *QUICK)
    assert code == 0, err
    assert json.loads(read_recipe_text("dream.png"))["objective"] == "0.5*layer(blocks.6) + channel(blocks.9, 7, 12)"


def test_layers_lists_the_embedded_models_blocks_as_json(reverie_cli):
    code, out, err = reverie_cli("layers", "--json")
    assert code == 0, err
    listed = json.loads(out)
    assert listed["model"] == "efficientnet-lite0" and listed["input_size"] == 224
    channels = {entry["name"]: entry["channels"] for entry in listed["layers"]}
    assert {f"blocks.{i}" for i in range(16)} <= set(channels)
    assert [channels[f"blocks.{i}"] for i in range(16)] == [
        16, 24, 24, 40, 40, 80, 80, 80, 112, 112, 112, 192, 192, 192, 192, 320]
    sizes = {entry["name"]: (entry["height"], entry["width"]) for entry in listed["layers"]}
    assert sizes["blocks.0"] == (112, 112) and sizes["blocks.15"] == (7, 7)


def test_layers_prints_a_table(reverie_cli):
    code, out, _ = reverie_cli("layers", "--size", "64")
    assert code == 0
    row = next(line for line in out.splitlines() if " blocks.6 " in line)
    assert "MBConv" in row and "80" in row and "4x4" in row


@pytest.mark.parametrize("arguments, message", [
    (["--model", "bad"], "unknown model 'bad'"),
    (["--size", "4"], "size must be at least 8 px, got 4"),
])
def test_layers_reports_mistakes_in_one_line(reverie_cli, arguments, message):
    code, out, err = reverie_cli("layers", *arguments)
    assert code == 2 and out == ""
    assert err.startswith("reverie: error: ") and err.count("\n") == 1 and message in err


def test_version_is_printed(reverie_cli):
    assert reverie_cli("--version")[:2] == (0, f"reverie {reverie.__version__}\n")


def test_layer_weights_from_flags_are_written_exactly():
    from reverie.cli.common import objective_from_flags

    assert objective_from_flags(["blocks.6=0.123456789", "blocks.9=2", "blocks.3"], []) == \
        "0.123456789*layer(blocks.6) + 2*layer(blocks.9) + layer(blocks.3)"


def test_a_pt2_model_file_is_listed_and_dreamed_on_and_never_loaded_from_a_recipe(workdir, reverie_cli,
                                                                                   tiny_cnn, monkeypatch):
    import torch

    dynamic = torch.export.Dim.DYNAMIC
    program = torch.export.export(tiny_cnn, (torch.rand(2, 3, 32, 32),),
                                  dynamic_shapes=({0: dynamic, 2: dynamic, 3: dynamic},))
    torch.export.save(program, "tiny.pt2")
    code, out, err = reverie_cli("layers", "--model", "tiny.pt2", "--size", "32", "--json")
    assert code == 0, err
    listed = {entry["name"]: (entry["kind"], entry["channels"]) for entry in json.loads(out)["layers"]}
    assert listed["features.conv1"] == ("Conv2d", 8) and listed["features.relu3"] == ("ReLU", 24)

    code, _, err = reverie_cli("dream", "photo.png", "--model", "tiny.pt2", "--layer", "features.relu3",
                               "-o", "out.png", *QUICK)
    assert code == 0, err
    assert json.loads(read_recipe_text("out.png"))["model"] == "tiny.pt2"

    # torch.export.load unpickles parts of the archive, so a recipe alone never gets to load a file.
    loads = []
    real_load = torch.export.load
    monkeypatch.setattr(torch.export, "load", lambda *args, **kwargs: loads.append(args) or real_load(*args, **kwargs))
    code, _, err = reverie_cli("dream", "--recipe", "out.png", "-o", "again.png", *QUICK)
    assert code == 2 and loads == [] and not Path("again.png").exists()
    assert "the recipe's model 'tiny.pt2' could run code (an import or a pickled file); pass --model explicitly" in err
    code, _, err = reverie_cli("dream", "--recipe", "out.png", "--model", "tiny.pt2", "-o", "again.png", *QUICK)
    assert code == 0, err
    assert len(loads) == 1 and Path("again.png").exists()
