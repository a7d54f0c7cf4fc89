"""Small things the command line promises: a default visualization, --lr help, frame transforms in help."""
from __future__ import annotations

import reverie
from reverie.models import ModelSpec
from reverie.pipelines.prepare import default_visualize_objective


def test_visualize_with_no_objective_renders_the_models_default_channel(tmp_path, reverie_cli):
    code, _, err = reverie_cli("visualize", "--size", "32x32", "--steps", "2", "-o", tmp_path / "v.png", "--quiet")
    assert code == 0, err
    assert reverie.read_recipe(tmp_path / "v.png").objective == "channel(blocks.9, 7)"
    code, out, _ = reverie_cli("visualize", "--help")
    assert "channel(blocks.9, 7)" in " ".join(out.split())


def test_the_default_visualization_of_another_model_is_channel_0_of_its_dream_layer(tiny_cnn):
    text = default_visualize_objective(ModelSpec("custom:TinyCNN"), tiny_cnn)
    assert text.startswith("channel(features.") and text.endswith(", 0)")


def test_lr_help_mentions_cppn_only_where_there_is_a_param_flag(reverie_cli):
    for command in ("visualize", "interpolate", "caricature", "style", "texture"):
        code, out, _ = reverie_cli(command, "--help")
        assert code == 0
        text = " ".join(out.split())
        lr_help = text.split("--lr <float>", 1)[1].split("[default", 1)[0]
        assert ("cppn" in lr_help) == ("--param <str>" in text), command


def test_interpolate_stores_its_gif_delay_in_the_recipe(tmp_path, reverie_cli):
    from PIL import Image

    code, _, err = reverie_cli("interpolate", "--from", "channel(blocks.3, 1)", "--to", "channel(blocks.3, 2)",
                               "--frames", "2", "--size", "32x32", "--steps", "2", "--delay", "9",
                               "-o", tmp_path / "frames", "--gif", tmp_path / "i.gif", "--quiet")
    assert code == 0, err
    with Image.open(tmp_path / "i.gif") as gif:
        assert gif.info["duration"] == 90
    assert reverie.read_recipe(next(iter(sorted((tmp_path / "frames").glob("*.png"))))).gif_delay == 9
