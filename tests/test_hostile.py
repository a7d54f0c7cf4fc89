"""Strangers' files: each class of failure a hostile recipe, image, mesh or command line can cause, one
case per root cause, built here. A refusal is exit status 2, one line on stderr naming the cause, no
traceback, nothing written, quickly; files outside the recipe's folder are never read.

The classes follow issue 12: 1 the path rule, 2 the work budget, 3 meshes, 4 locked folders and
resume, 5 one line instead of a traceback, 6 escaped text, 7 output over the input, 8 non-finite
values, 9 stray temporaries, 10 early validation, 11 short, true messages.
"""
from __future__ import annotations

import json
import os
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, PngImagePlugin

import reverie
from reverie.errors import ReverieError
from reverie.io.images import RECIPE_KEY

QUICK = ["--octaves", "1", "--steps", "1", "--quiet"]


def listing(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*"))


def recipe_png(path: Path, recipe: dict, size: tuple[int, int] = (8, 8)) -> Path:
    """A PNG carrying ``recipe`` as a Reverie output would: what a stranger posts."""
    info = PngImagePlugin.PngInfo()
    info.add_itxt(RECIPE_KEY, json.dumps(recipe))
    Image.new("RGB", size, "grey").save(path, pnginfo=info)
    return path


def refused(result: tuple[int, str, str], *phrases: str) -> str:
    """Exit 2 and one line on stderr, with every phrase in it and no traceback; returns the line."""
    code, _, err = result
    assert code == 2, err
    assert err.count("\n") == 1 and err.startswith("reverie: error: "), err
    assert "Traceback" not in err and len(err) < 400, err
    for phrase in phrases:
        assert phrase in err, err
    return err


@pytest.fixture
def shared(tmp_path, monkeypatch):
    """``shared/`` holds a stranger's recipe; ``private/secret.png`` is a file of the user's elsewhere."""
    (tmp_path / "shared").mkdir()
    (tmp_path / "private").mkdir()
    Image.new("RGB", (64, 64), "white").save(tmp_path / "private" / "secret.png")
    Image.new("RGB", (64, 64), "white").save(tmp_path / "shared" / "mask.png")
    monkeypatch.chdir(tmp_path)
    return tmp_path / "shared"


# --- 1: a recipe reads only files in its own folder --------------------------------------------

SECRET = str(Path("..") / "private" / "secret.png")


@pytest.mark.parametrize("field, value, phrase", [
    ("mask", SECRET, "the recipe's mask leads out of its folder"),
    ("mask", "ABSOLUTE", "the recipe's mask is an absolute path"),
    ("source", "ABSOLUTE", "the recipe's source is an absolute path"),
    ("source", "/dev/zero", "the recipe's source is an absolute path"),
    ("source", "~/secret.png", "the recipe's source is an absolute path"),
    ("mask", "link.png", "the recipe's mask (link.png) is a link out of the recipe's folder"),
    ("mask", "fifo.png", "the recipe's mask (fifo.png) is not a regular file"),
    ("mask", "sub", "the recipe's mask (sub) is not a regular file"),
    ("mask", "absent.png", "the recipe's mask (absent.png) is not in the recipe's folder"),
])
def test_a_recipe_never_reads_a_file_outside_its_folder(shared, reverie_cli, field, value, phrase):
    secret = shared.parent / "private" / "secret.png"
    (shared / "link.png").symlink_to(secret)
    os.mkfifo(shared / "fifo.png")  # opening it would block for ever
    (shared / "sub").mkdir()
    value = str(secret) if value == "ABSOLUTE" else value
    path = recipe_png(shared / "r.png", {"kind": "dream", "source": "noise", "size": [64, 64], field: value})
    before = listing(shared.parent)
    err = refused(reverie_cli("dream", "--recipe", path, "-o", "out.png", *QUICK), phrase, "name the file yourself")
    assert ("(INPUT)" if field == "source" else "(--mask)") in err  # how to pass it explicitly
    assert listing(shared.parent) == before  # nothing written


def test_weights_named_by_a_recipe_are_confined_and_the_message_confirms_nothing(shared, reverie_cli):
    recipe = {"kind": "dream", "source": "noise", "model": {"name": "efficientnet-lite0", "weights": "/etc/passwd"}}
    err = refused(reverie_cli("dream", "--recipe", recipe_png(shared / "r.png", recipe), "-o", "out.png", *QUICK),
                  "the recipe's model.weights is an absolute path", "(--weights)")
    missing = {**recipe, "model": {"name": "efficientnet-lite0", "weights": "/no/such/file.pt"}}
    other = refused(reverie_cli("dream", "--recipe", recipe_png(shared / "m.png", missing), "-o", "out.png", *QUICK))
    assert err.replace("/etc/passwd", "X") == other.replace("/no/such/file.pt", "X")  # existence is not told


def test_a_file_beside_the_recipe_is_read_and_announced_first(shared, reverie_cli, lite0, monkeypatch):
    recipe = {"kind": "dream", "source": "noise", "size": [64, 64], "mask": "mask.png"}
    path = recipe_png(shared / "r.png", recipe)
    monkeypatch.chdir(shared.parent / "private")  # the working folder does not matter
    code, _, err = reverie_cli("dream", "--recipe", path, "-o", "out.png", *QUICK)
    assert code == 0, err
    assert err.startswith(f"reading mask {shared / 'mask.png'} (named by the recipe)\n")
    assert json.loads(reverie.io.images.read_recipe_text("out.png"))["mask"] == "mask.png"  # kept as given


def test_a_file_named_again_on_the_command_line_is_the_users(shared, reverie_cli, lite0):
    recipe = {"kind": "dream", "source": "noise", "size": [64, 64], "mask": SECRET}
    path = recipe_png(shared / "r.png", recipe)
    code, _, err = reverie_cli("dream", "--recipe", path, "--mask", "private/secret.png", "-o", "out.png", *QUICK)
    assert code == 0, err
    assert "reading" not in err


def test_the_library_reader_holds_the_same_rule(shared):
    recipe = reverie.read_recipe(json.dumps({"kind": "dream", "source": "noise", "size": [64, 64],
                                             "mask": "mask.png"}).encode())
    with pytest.raises(ReverieError, match="the recipe's mask names a file .* not read from a file"):
        reverie.run(recipe)
    from_file = reverie.read_recipe(recipe_png(shared / "r.png", {"kind": "style", "content": SECRET}))
    with pytest.raises(ReverieError, match=r"the recipe's content leads out of its folder .*\(CONTENT\)"):
        reverie.run(from_file)
    mine = replace(from_file, content="sample:chelsea")  # set again by the caller: theirs
    assert reverie.pipelines.prepare.files_to_read(mine) == []


# --- 2: a work budget, checked before any work ------------------------------------------------

@pytest.mark.parametrize("recipe, phrase", [
    ({"size": [1000000, 1]}, "of memory"),  # 64 px high once its smallest octave is raised: 262 GB
    ({"size": [4096, 4096], "settings": {"steps": 100000}}, "pixel-steps of work, above the limit of 1e+10"),
    ({"settings": {"steps": 10**12}}, "steps must be a whole number from 1 to 100000"),
    ({"settings": {"min_octave_size": 10**6}}, "min-octave-size must be a whole number from 1 to 4096"),
])
def test_a_recipe_that_asks_for_too_much_work_is_refused_before_any(shared, reverie_cli, recipe, phrase):
    path = recipe_png(shared / "r.png", {"kind": "dream", "source": "noise", **recipe})
    refused(reverie_cli("dream", "--recipe", path, "-o", "out.png", "--quiet"), phrase)
    assert not Path("out.png").exists()


def test_more_work_is_allowed_when_asked_for(shared, reverie_cli, lite0):
    path = recipe_png(shared / "r.png", {"kind": "dream", "source": "noise", "size": [64, 64],
                                         "settings": {"octaves": 1, "steps": 2}})
    err = refused(reverie_cli("dream", "--recipe", path, "-o", "out.png", "--quiet", "--max-work", "1000"),
                  "lower the size, octaves, steps or min-octave-size, or allow it with --max-work 9e3")
    assert "8.19e+03 pixel-steps" in err
    code, _, err = reverie_cli("dream", "--recipe", path, "-o", "out.png", "--quiet", "--max-work", "1e4")
    assert code == 0, err


def test_an_image_too_large_to_dream_is_an_error_before_it_is_decoded(shared, reverie_cli):
    bomb = shared / "bomb.png"  # a PNG header claiming 30000 x 30000 pixels; no pixel data needed
    Image.new("L", (1, 1)).save(bomb)
    data = bytearray(bomb.read_bytes())
    data[16:24] = (30000).to_bytes(4, "big") * 2
    import zlib
    data[29:33] = zlib.crc32(bytes(data[12:29])).to_bytes(4, "big")
    bomb.write_bytes(bytes(data))
    refused(reverie_cli("dream", str(bomb), "-o", "out.png", *QUICK), "is too large to dream here: 900 Mpx", "at most")


def test_the_expression_language_repeats_no_text():
    with pytest.raises(ReverieError, match=r"combines numbers and objectives, not text"):
        reverie.parse_objective("layer(a*200000000)")


# --- 3: meshes are checked where they are loaded ----------------------------------------------

QUAD = "v 0 0 0\nv 1 0 0\nv 1 1 0\nv 0 1 0\nvt {uv} 0\nvt 1 0\nvt 1 1\nvt 0 1\nf 1/1 2/2 3/3\nf 1/1 3/3 4/4\n"


@pytest.mark.parametrize("text, phrase", [
    (QUAD.format(uv="nan"), "has non-finite texture coordinates"),  # crashed grid_sample's backward
    (QUAD.format(uv="0").replace("v 1 1 0", "v inf 1 0"), "has non-finite vertex positions"),
    (QUAD.format(uv="0").replace("v 1 0 0", "v 1e30 0 0"), "has vertex positions beyond +-1e+15"),
    ("v 1 1 1\nv 1 1 1\nv 1 1 1\nvt 0 0\nvt 1 0\nvt 1 1\nf 1/1 2/2 3/3\n", "has zero extent"),
])
def test_a_mesh_that_cannot_be_rendered_is_refused_where_it_is_loaded(tmp_path, reverie_cli, text, phrase):
    (tmp_path / "mesh.obj").write_text(text)
    refused(reverie_cli("texture", tmp_path / "mesh.obj", "-o", tmp_path / "t.png", "--steps", "1", "--quiet"),
            phrase)
    assert not (tmp_path / "t.png").exists()


# --- 4: one render at a time in a folder; --resume needs a recipe to resume ---------------------

ANIMATE = ["animate", "--noise", "--size", "64x64", "--frames", "2", *QUICK]


def test_a_second_render_into_a_folder_in_use_is_refused(tmp_path, reverie_cli):
    import subprocess

    owner = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (tmp_path / "anim").mkdir()
        (tmp_path / "anim" / ".reverie.lock").write_text(f"{owner.pid}\n")  # another run holds it
        refused(reverie_cli(*ANIMATE, "-o", tmp_path / "anim"),
                f"output folder {tmp_path / 'anim'} is in use by another Reverie run (process {owner.pid})")
        assert listing(tmp_path / "anim") == [".reverie.lock"]  # its lock is left alone
    finally:
        owner.kill()
        owner.wait()


def test_a_lock_left_by_a_killed_run_is_stale_and_taken_over(tmp_path, reverie_cli, lite0):
    import subprocess

    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    (tmp_path / "anim").mkdir()
    (tmp_path / "anim" / ".reverie.lock").write_text(f"{gone.pid}\n")
    code, _, err = reverie_cli(*ANIMATE, "-o", tmp_path / "anim")
    assert code == 0, err
    assert listing(tmp_path / "anim") == ["frame-00000.png", "frame-00001.png", "recipe.json"]


def test_resume_in_a_folder_without_a_recipe_says_so_instead_of_starting_another(tmp_path, reverie_cli):
    (tmp_path / "anim").mkdir()  # a run killed before it wrote recipe.json
    refused(reverie_cli("animate", "-o", tmp_path / "anim", "--resume", "--quiet"),
            "has no recipe.json to resume from")
    assert listing(tmp_path / "anim") == []
    refused(reverie_cli("animate", "-o", tmp_path / "none", "--resume", "--quiet"), "no recipe.json")
    assert not (tmp_path / "none").exists()


# --- 5: one line, never a traceback ------------------------------------------------------------

DREAM = ["dream", "--noise", "--size", "64x64", *QUICK, "-o", "out.png"]
BIG = "9" * 310  # past a float's range as an integer


@pytest.mark.parametrize("arguments, phrase", [
    (["--objective", f"{BIG} * layer(blocks.6)"], "number out of range '99999999999999999999' at position 0"),
    (["--objective", "layer(blocks.6) * " + "9" * 4400], "number out of range"),
    (["--octave-scale", "1e200"], "octave-scale must be a finite number from 1 to 16"),
    (["--jitter", "1" + "0" * 19], "jitter must be a whole number from 0 to 4096"),
    (["--step-size", BIG], "step-size must be a finite number from 1e-09 to 10, got inf"),
    (["--model", "json:loads"], "calling 'json:loads' failed: TypeError"),
    (["--model", "os:getcwd"], "'os:getcwd' gave a str, not a torch.nn.Module"),
    (["--device", "meta"], "device 'meta' cannot run Reverie"),
    (["--device", "mps"], "device 'mps' was asked for but this PyTorch has no Apple GPU"),
    (["--objective", "diversity(blocks.6)"], "does not depend on the pixels of one image"),
])
def test_a_bad_flag_or_expression_is_one_line(tmp_path, monkeypatch, reverie_cli, arguments, phrase):
    monkeypatch.chdir(tmp_path)
    refused(reverie_cli(*DREAM, *arguments), phrase)
    assert listing(tmp_path) == []


def test_a_keyframe_number_past_a_floats_range_is_one_line(tmp_path, reverie_cli):
    refused(reverie_cli(*ANIMATE, "-o", tmp_path / "anim", "-k", f"0: steps={BIG}"),
            "number out of range at position 9 in option keyframe")
    assert not (tmp_path / "anim").exists()


def test_a_recipe_file_that_is_not_a_recipe_is_one_line(tmp_path, reverie_cli):
    import zlib

    (tmp_path / "deep.json").write_text("[" * 100_000 + "]" * 100_000)
    (tmp_path / "latin1.json").write_bytes('{"kind": "dream", "text": "caf\xe9"}'.encode("latin-1"))
    bomb = PngImagePlugin.PngInfo()  # a 100 MB recipe text chunk in 100 kB: Pillow refuses it, in one line
    bomb.add(b"zTXt", RECIPE_KEY.encode() + b"\0\0" + zlib.compress(b" " * 100_000_000, 9))
    Image.new("RGB", (8, 8)).save(tmp_path / "bomb.png", pnginfo=bomb)
    for name, phrase in (("deep.json", "recipe is not valid JSON: nested too deeply"),
                         ("latin1.json", "is not UTF-8 text (byte 30)"),
                         ("bomb.png", "cannot read")):
        refused(reverie_cli("dream", "--recipe", tmp_path / name, "-o", tmp_path / "out.png", "--quiet"), phrase)
    assert not (tmp_path / "out.png").exists()


def test_weights_of_the_wrong_shapes_are_one_line(tmp_path, reverie_cli):
    import torch

    torch.save({"stem.conv.weight": torch.zeros(2, 2)}, tmp_path / "w.pt")
    refused(reverie_cli(*DREAM, "--weights", tmp_path / "w.pt"), "does not fit the model (", "size mismatch")


@pytest.mark.parametrize("mode", ["LAB", "F", "I;16", "CMYK"])
def test_an_image_in_any_mode_reads_as_rgb(tmp_path, mode):
    from reverie.io.images import open_picture
    from reverie.masks import mask_from_pil

    picture = Image.new(mode, (8, 8))
    if mode == "F":
        picture = Image.fromarray(np.full((8, 8), np.nan, dtype=np.float32), "F")
    picture.save(tmp_path / "odd.tif")
    opened = open_picture(tmp_path / "odd.tif")
    assert reverie.io.images.from_pil(opened).shape == (1, 3, 8, 8)
    assert mask_from_pil(opened).shape == (1, 1, 8, 8)  # LAB has no grey form: it is RGB by now


@pytest.mark.parametrize("delay", [0.0, 0.2, 1.0])  # from the first import of the commands on
def test_ctrl_c_in_the_first_second_is_one_line(tmp_path, delay):
    import signal
    import subprocess
    import time

    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(Path(reverie.__file__).parents[1])}
    # The console script's entry, with main()'s own handler installed before "started": a signal in the
    # microseconds between the print and main()'s first line is the test's race, not a user's.
    entry = ("import signal; from reverie import cli; signal.signal(signal.SIGINT, cli._defer); "
             "print('started', flush=True); cli.main()")
    process = subprocess.Popen([sys.executable, "-c", entry, *DREAM], cwd=tmp_path,
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert process.stdout.readline() == "started\n"
    time.sleep(delay)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    assert err.strip() == "reverie: interrupted"


def test_markup_in_a_stage_name_is_shown_as_text():
    import io

    from rich.console import Console

    from reverie.cli.progress import progress_bar

    screen = io.StringIO()
    with progress_bar("dreaming", False, Console(file=screen, width=200)) as update:
        update(reverie.Progress("[/] layer [bold]x", 1, 2, 1.0, 2.0, 0.5))  # a closing tag alone raised
    assert "[/] layer [bold]x" in screen.getvalue()


def test_every_output_is_checked_before_the_first_frame(tmp_path, reverie_cli):
    (tmp_path / "file").write_text("a file, not a folder")
    refused(reverie_cli(*ANIMATE, "-o", tmp_path / "anim", "--gif", tmp_path / "file" / "a.gif"),
            f"cannot create --gif folder {tmp_path / 'file'}: {tmp_path / 'file'} is a file")
    assert not (tmp_path / "anim").exists()


# --- 11: short messages that name the real cause -----------------------------------------------

def test_a_long_file_name_is_reported_as_too_long(tmp_path, reverie_cli):
    err = refused(reverie_cli(*DREAM[:-1], tmp_path / ("d" * 240 + ".png")), "output name too long: 'ddd")
    assert "244 bytes, and at most 215 fit here" in err and "not writable" not in err


def test_a_huge_echoed_input_is_cut_short(tmp_path, monkeypatch, reverie_cli):
    monkeypatch.chdir(tmp_path)
    err = refused(reverie_cli("dream", "--sample", "x" * 9_000_000, "-o", "out.png", "--quiet"),
                  "unknown sample 'xxxxxxxx")
    assert "x..." in err and len(err) < 200


# --- 6: text from a file never reaches the terminal raw -----------------------------------------

def test_control_characters_from_a_recipe_are_shown_escaped(shared, reverie_cli, lite0):
    recipe = {"kind": "dream", "source": "noise", "size": [64, 64], "version": "\x1b]0;pwned\x07\x1b[2J",
              "settings": {"octaves": 1, "steps": 1}}
    code, _, err = reverie_cli("dream", "--recipe", recipe_png(shared / "r.png", recipe), "-o", "out.png", "--quiet")
    assert code == 0, err
    assert "\x1b" not in err and "\x07" not in err
    assert "note: recipe made by Reverie \\x1b]0;pwned\\x07\\x1b[2J, replaying with" in err
    recipe = {"kind": "dream", "source": "noise", "objective": "layer('blocks.6\x1b[2J')"}
    err = refused(reverie_cli("dream", "--recipe", recipe_png(shared / "l.png", recipe), "-o", "out.png", *QUICK),
                  "unknown layer 'blocks.6\\x1b[2J'")
    assert "\x1b" not in err


# --- 7: the output never silently replaces the input --------------------------------------------

def test_an_output_over_the_input_is_refused_unless_asked_for(tmp_path, monkeypatch, reverie_cli, lite0):
    monkeypatch.chdir(tmp_path)
    Image.new("RGB", (64, 64), "white").save("photo.png")
    before = Path("photo.png").read_bytes()
    refused(reverie_cli("dream", "photo.png", "-o", "./photo.png", *QUICK),
            "the output photo.png is the input photo.png", "--overwrite-input")
    assert Path("photo.png").read_bytes() == before
    code, _, err = reverie_cli("dream", "photo.png", "-o", "photo.png", "--overwrite-input", *QUICK)
    assert code == 0, err
    assert Path("photo.png").read_bytes() != before


# --- 8: non-finite values are refused, not dreamed into a black image ---------------------------

@pytest.mark.parametrize("recipe, phrase", [
    ('{"kind": "dream", "source": "noise", "text_weight": Infinity}', "'text_weight' must be finite, got inf"),
    ('{"kind": "dream", "source": "noise", "settings": {"step_size": NaN}}', "'step_size' must be finite"),
    (('{"kind": "dream", "source": "noise", "size": [64, 64], "settings": {"octaves": 1, "steps": 1}, '
      '"objective": "1e308*layer(blocks.6) + 1e308*layer(blocks.8)"}'), "became inf or its gradient non-finite"),
    ('{"kind": "dream", "source": "noise", "objective": "layer(blocks.6) * inf"}', "combines numbers and objectives"),
])
def test_a_non_finite_value_is_refused(tmp_path, monkeypatch, reverie_cli, recipe, phrase):
    monkeypatch.chdir(tmp_path)
    Path("r.json").write_text(recipe)
    refused(reverie_cli("dream", "--recipe", "r.json", "-o", "out.png", "--quiet"), phrase)
    assert listing(tmp_path) == ["r.json"]


# --- 9: no stray temporaries after a kill -------------------------------------------------------

def _pid_of_a_finished_process() -> int:
    import subprocess

    finished = subprocess.Popen([sys.executable, "-c", "pass"])
    finished.wait()
    return finished.pid


def test_a_later_run_removes_the_temporaries_of_killed_runs_only(tmp_path, monkeypatch, reverie_cli, lite0):
    import subprocess

    monkeypatch.chdir(tmp_path)
    dead = _pid_of_a_finished_process()
    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        leftovers = [f".out.png.{dead}-abc123.tmp", f".reverie-{dead}-x1y2.probe"]
        working = f".out.png.{alive.pid}-def456.tmp"  # another run, still writing
        for name in [*leftovers, working]:
            Path(name).write_bytes(b"half a file")
        code, _, err = reverie_cli(*DREAM)
        assert code == 0, err
        assert listing(tmp_path) == sorted([working, "out.png"])
    finally:
        alive.kill()
        alive.wait()


def test_kill_9_then_resume_gives_the_frames_of_an_uninterrupted_run(tmp_path, reverie_cli):
    import signal
    import subprocess
    import time

    from reverie.io.frames import frame_path

    arguments = [*ANIMATE[:4], "--frames", "40", "--octaves", "1", "--steps", "1", "--quiet", "--seed", "3"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(Path(reverie.__file__).parents[1])}
    process = subprocess.Popen([sys.executable, "-c", "from reverie.cli import main; main()", *arguments,
                                "-o", str(tmp_path / "cut")], env=env, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while not frame_path(tmp_path / "cut", 1).exists():
        assert process.poll() is None and time.monotonic() < deadline, process.communicate()[1]
        time.sleep(0.005)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert (tmp_path / "cut" / ".reverie.lock").exists()  # left by the killed run
    code, _, err = reverie_cli("animate", "-o", tmp_path / "cut", "--resume", "--quiet")
    assert code == 0, err
    code, _, err = reverie_cli(*arguments, "-o", tmp_path / "whole")
    assert code == 0, err
    frames = sorted(path.name for path in (tmp_path / "whole").glob("frame-*.png"))
    assert len(frames) == 40 and listing(tmp_path / "cut") == listing(tmp_path / "whole")  # no lock, no temporary
    assert all((tmp_path / "cut" / name).read_bytes() == (tmp_path / "whole" / name).read_bytes() for name in frames)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux's parent-death signal")
def test_ffmpeg_dies_with_the_process_that_started_it(tmp_path):
    import signal
    import subprocess
    import time

    script = ("import subprocess, sys\n"
              "from reverie.io.video import _quiet_child, ffmpeg_exe\n"
              "child = subprocess.Popen([ffmpeg_exe(), '-nostdin', '-f', 'lavfi', '-i', 'nullsrc', '-f', 'null', '-'],"
              " stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **_quiet_child())\n"
              "print(child.pid, flush=True)\n"
              "child.wait()\n")
    env = {**os.environ, "PYTHONPATH": str(Path(reverie.__file__).parents[1])}
    parent = subprocess.Popen([sys.executable, "-c", script], env=env, stdout=subprocess.PIPE, text=True)
    ffmpeg = int(parent.stdout.readline())
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    deadline = time.monotonic() + 10
    while Path(f"/proc/{ffmpeg}").exists() and "Z" not in Path(f"/proc/{ffmpeg}/stat").read_text().split()[2]:
        assert time.monotonic() < deadline, "ffmpeg outlived its parent"
        time.sleep(0.05)


# --- 10: every option is checked before a folder is made ----------------------------------------

@pytest.mark.parametrize("transform, phrase", [
    ("zoom(-5)", "zoom amount must be above -1 (got -5 at frame 1)"),
    ('zoom(keys("0:0.1, 20:-3"))', "zoom amount must be above -1 (got -3 at frame 20)"),
])
def test_a_transform_no_frame_can_use_is_refused_before_the_folder(tmp_path, reverie_cli, transform, phrase):
    refused(reverie_cli(*ANIMATE[:4], "--frames", "30", *QUICK, "-o", tmp_path / "anim", "-t", transform), phrase)
    assert not (tmp_path / "anim").exists()
    code, _, err = reverie_cli(*ANIMATE, "-o", tmp_path / "anim", "-t", "zoom(0.05)")  # the corrected command
    assert code == 0, err
