"""The ``reverie`` command: a dream end to end, layer listing, and one clean line for every mistake."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
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
    (tmp_path / "recipe.json").write_text(json.dumps({"kind": "visualize"}))
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
    (["photo.png", "--noise"], "give only one of INPUT, --sample, --noise and --perlin"),
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
    (["photo.png", "--steps", "0"], "steps must be a whole number from 1 to 100000, got 0"),
    (["photo.png", "--steps", "-3"], "steps must be a whole number from 1 to 100000, got -3"),
    (["photo.png", "--octaves", "0"], "octaves must be a whole number from 1 to 64, got 0"),
    (["photo.png", "--tile", "0"], "tile must be a whole number from 32 to 16384, got 0"),
    (["photo.png", "--step-size", "-0.1"], "step-size must be a finite number from 1e-09 to 10, got -0.1"),
    (["photo.png", "--normalize", "imagenett"], "unknown normalize 'imagenett' (nearest: imagenet)"),
    (["photo.png", "--recipe", "recipe.json"], "holds a visualize recipe; replay it with reverie visualize"),
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
    assert json.loads(read_recipe_text("out.png"))["model"]["name"] == "tiny.pt2"

    # torch.export.load unpickles parts of the archive, so a recipe alone never gets to load a file.
    loads = []
    real_load = torch.export.load
    monkeypatch.setattr(torch.export, "load", lambda *args, **kwargs: loads.append(args) or real_load(*args, **kwargs))
    code, _, err = reverie_cli("dream", "--recipe", "out.png", "-o", "again.png", *QUICK)
    assert code == 2 and loads == [] and not Path("again.png").exists()
    assert err == ("reverie: error: the recipe's model 'tiny.pt2' could run code (an import or a pickled file); "
                   "name it yourself (--model, or model= in Python) to confirm you trust it\n")
    code, _, err = reverie_cli("dream", "--recipe", "out.png", "--model", "tiny.pt2", "-o", "again.png", *QUICK)
    assert code == 0, err
    assert len(loads) == 1 and Path("again.png").exists()


def test_ctrl_c_stops_a_dream_and_keeps_the_partial_image_with_where_it_stopped(workdir):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "FORCE_COLOR": "1"}  # FORCE_COLOR: the bar draws into a file
    with open(workdir / "err.txt", "w") as err:
        process = subprocess.Popen([str(REVERIE), "dream", "--size", "96x64", "--octaves", "1", "--steps", "2000",
                                    "-o", "out.png"], cwd=workdir, env=env, stdout=subprocess.PIPE, stderr=err)
    deadline = time.monotonic() + 120
    while "step" not in (workdir / "err.txt").read_text(errors="replace"):  # the first progress event
        assert process.poll() is None and time.monotonic() < deadline, (workdir / "err.txt").read_text()
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=60) == 130
    last = (workdir / "err.txt").read_text().rstrip("\n").rsplit("\n", 1)[-1]
    last = last[last.find("reverie: "):]  # after the bar's last escape code (it shows the cursor again)
    assert last.startswith("reverie: stopped at octave 1/1 step "), last
    assert last.endswith("; wrote out.png (replay with --recipe out.png, or add --finish to complete it)")
    stopped_at = json.loads(read_recipe_text(workdir / "out.png"))["stopped_at"]
    assert stopped_at["unit"] == "step" and 1 <= stopped_at["after"] < 2000, stopped_at
    assert f"step {stopped_at['after']}/2000" in last
    assert sorted(workdir.glob(".*")) == []  # no temporary file left behind


def test_a_stopped_recipe_replays_to_its_stop_and_finish_runs_it_to_the_end(workdir, reverie_cli, lite0):
    recipe = {"kind": "dream", "source": "photo.png", "model": "efficientnet-lite0",  # the older flat model fields
              "weights": None, "normalize": "none", "version": "0.0.1",
              "settings": {"octaves": 1, "steps": 3}, "stopped_at": {"after": 2, "unit": "step", "stage": "octave 1/1"}}
    Path("stopped.json").write_text(json.dumps(recipe))
    code, _, err = reverie_cli("dream", "--recipe", "stopped.json", "-o", "again.png", "-q")
    assert code == 0, err
    assert err.splitlines()[0] == f"note: recipe made by Reverie 0.0.1, replaying with {reverie.__version__}"
    assert "add --finish to complete it" in err
    assert json.loads(read_recipe_text("again.png"))["stopped_at"]["after"] == 2
    code, _, err = reverie_cli("dream", "--recipe", "stopped.json", "--finish", "-o", "whole.png", "-q")
    assert code == 0, err
    assert json.loads(read_recipe_text("whole.png"))["stopped_at"] is None


SENTINEL = """
import pathlib
pathlib.Path(__file__).with_name("imported.txt").write_text("the recipe's model ran code")

def factory():
    raise SystemExit("the factory ran")
"""
QUAD_OBJ = "v -1 -1 0\nv 1 -1 0\nv 1 1 0\nv -1 1 0\nvt 0 0\nvt 1 0\nvt 1 1\nvt 0 1\nf 1/1 2/2 3/3\nf 1/1 3/3 4/4\n"
REPLAYS = {  # every command that takes --recipe: its task, and what else the recipe needs to get as far as the model
    "dream": ("dream", {}), "visualize": ("visualize", {"objective": "layer(blocks.3)"}),
    "interpolate": ("interpolate", {"start": "channel(blocks.3, 0)", "end": "channel(blocks.3, 1)"}),
    "animate": ("animate", {"frames": 2}), "dream-video": ("video", {"source": "in.mp4"}),
    "caricature": ("caricature", {}), "style": ("style", {}), "texture": ("texture", {"mesh": "quad.obj"}),
}


@pytest.mark.parametrize("command", REPLAYS)
def test_a_recipe_never_runs_the_code_its_model_names(workdir, reverie_cli, monkeypatch, command):
    import torch
    from reverie.io.video import write_mp4

    kind, fields = REPLAYS[command]
    (workdir / f"sentinel_{kind}.py").write_text(SENTINEL)
    monkeypatch.syspath_prepend(str(workdir))
    if kind == "video":
        write_mp4(workdir / "in.mp4", [torch.rand(1, 3, 32, 32) for _ in range(2)], fps=4)
    (workdir / "quad.obj").write_text(QUAD_OBJ)
    Path("recipe.json").write_text(json.dumps({"kind": kind, "model": {"name": f"sentinel_{kind}:factory"}, **fields}))
    before = listing(workdir)
    code, out, err = reverie_cli(command, "--recipe", "recipe.json", "-q",
                                 *(["-o", "out.mp4"] if kind == "video" else ["-o", "out"] if kind == "animate" else []))
    assert code == 2, err
    assert err == (f"reverie: error: the recipe's model 'sentinel_{kind}:factory' could run code (an import or a "
                   "pickled file); name it yourself (--model, or model= in Python) to confirm you trust it\n")
    assert not (workdir / "imported.txt").exists() and f"sentinel_{kind}" not in sys.modules
    assert listing(workdir) == before


def test_help_defaults_come_from_the_recipe_fields(reverie_cli):
    import typer

    from reverie.cli.main import app
    from reverie.engine.deepdream import DreamSettings
    from reverie.tasks import TASKS

    code, out, _ = reverie_cli("dream", "--help")
    text = " ".join(out.split())
    assert code == 0 and "--steps <int> Gradient steps per octave. [default: 20]" in text
    octaves = text[text.index("--octaves <int>"):text.index("--octave-scale")]
    assert f"[default: {DreamSettings().octaves}]" in octaves and "4" in octaves
    commands = typer.main.get_command(app).commands
    for command, kind, field in [("dream", "dream", "settings.steps"), ("animate", "animate", "settings.steps"),
                                 ("dream-video", "video", "settings.jitter"), ("style", "style", "settings.steps"),
                                 ("texture", "texture", "size"), ("interpolate", "interpolate", "frames"),
                                 ("visualize", "visualize", "settings.optimizer")]:
        default = TASKS[kind].recipe()
        for part in field.split("."):
            default = getattr(default, part)
        default = "x".join(map(str, default)) if isinstance(default, tuple) else default
        option = next(p for p in commands[command].params if p.name == field.rpartition(".")[2])
        assert option.help.endswith(f"[default: {default}]"), (command, option.help)


def test_the_flag_table_matches_the_recipe_classes():
    """If this fails, run `python -m reverie.cli.flags` to write src/reverie/cli/flag_table.py again."""
    from reverie.cli.flag_table import FLAGS
    from reverie.cli.flags import flag_table

    assert flag_table() == FLAGS


def test_a_new_model_flag_is_trusted_and_drops_the_recipes_weights():
    from reverie.cli.flags import with_flags
    from reverie.models import ModelSpec

    recipe = reverie.read_recipe(json.dumps({"kind": "dream", "model": {"name": "lab:build", "weights": "w.pt",
                                                                        "normalize": "imagenet"}}))
    assert not recipe.model.trusted
    reweighted = with_flags(recipe, {"weights": "x.pt"}).model
    # (layout="nchw", contiguous: the recipe predates both, so its model runs as it did)
    assert reweighted == ModelSpec("lab:build", "x.pt", "imagenet", layout="nchw", memory_format="contiguous")
    assert not reweighted.trusted
    renamed = with_flags(recipe, {"model": "lab:build"}).model
    assert renamed == ModelSpec("lab:build") and renamed.trusted
    steps = with_flags(recipe, {"steps": 7, "octaves": None}).settings
    assert (steps.steps, steps.octaves) == (7, recipe.settings.octaves)


def test_studio_refuses_a_bad_port_with_one_line(reverie_cli):
    code, _, err = reverie_cli("studio", "--port", "99999")
    assert code == 2 and err.strip() == "reverie: error: port must be from 1 to 65535, got 99999"


def test_studio_refuses_a_model_it_cannot_load_before_starting(reverie_cli):
    code, _, err = reverie_cli("studio", "--model", "nosuch-model")
    assert code == 2 and err.startswith("reverie: error: unknown model 'nosuch-model'") and err.count("\n") == 1
