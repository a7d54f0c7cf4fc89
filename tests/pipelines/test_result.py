"""Results render themselves in a notebook: a PNG of the expected size for every result type, and HTML
with the picture (or an inline player for frames), a caption and the recipe folded away."""
from __future__ import annotations

import base64
import html
import io
import json
import re
from dataclasses import replace

import pytest
import torch
from PIL import Image

import reverie
from reverie.io.frames import write_frames
from reverie.io.video import write_mp4
from reverie.pipelines.animate import AnimateRecipe, AnimateResult
from reverie.pipelines.texture import TextureRecipe
from reverie.pipelines.video import VideoRecipe, VideoResult
from reverie.recipe import StopPoint


def png(data: bytes) -> Image.Image:
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    picture = Image.open(io.BytesIO(data))
    picture.load()
    return picture


def embedded(markup: str, mime: str) -> bytes:
    match = re.search(rf'src="data:{re.escape(mime)};base64,([^"]+)"', markup)
    assert match, f"no {mime} in the HTML"
    return base64.b64decode(match[1])


def frame_duration(player: Image.Image) -> int:
    """Milliseconds the first frame of an animated image shows (read once the frame is decoded)."""
    player.seek(0)
    player.load()
    return player.info["duration"]


def folded_recipe(markup: str) -> dict:
    match = re.search(r"<details><summary>recipe</summary><pre[^>]*>(.*?)</pre></details>", markup, re.DOTALL)
    assert match, "no folded recipe in the HTML"
    return json.loads(html.unescape(match[1]))


def test_an_image_result_renders_its_image_and_recipe():
    recipe = reverie.DreamRecipe(objective="layer(blocks.6)", seed=7)
    result = reverie.DreamResult(recipe, False, torch.rand(1, 3, 24, 40))
    assert png(result._repr_png_()).size == (40, 24)
    markup = result._repr_html_()
    assert png(embedded(markup, "image/png")).size == (40, 24)
    assert folded_recipe(markup) == json.loads(recipe.to_json())
    assert "dream · 40x24" in markup


def test_a_batch_renders_as_a_contact_sheet():
    images = torch.rand(4, 4, 16, 16)   # RGBA: flattened for the sheet
    result = reverie.VisualizeResult(reverie.VisualizeRecipe(), False, images, ["a", "b", "c", "d"])
    assert png(result._repr_png_()).size == (2 * 16 + 4, 2 * 16 + 4)   # 2 x 2 cells, a 4 px gap


def test_a_stopped_result_says_where_it_stopped():
    recipe = replace(reverie.DreamRecipe(), stopped_at=StopPoint(5, "step", "octave 2/4 step 1/20"))
    result = reverie.DreamResult(recipe, True, torch.rand(1, 3, 8, 8))
    assert "stopped at octave 2/4 step 1/20" in result._repr_html_()


def test_a_texture_result_renders_its_texture():
    result = reverie.pipelines.result.TextureResult(TextureRecipe(), False, torch.rand(1, 3, 32, 64))
    assert png(result._repr_png_()).size == (64, 32)


def test_frames_render_as_an_animated_player(tmp_path):
    write_frames(tmp_path, torch.rand(5, 3, 20, 30))
    result = AnimateResult(AnimateRecipe(frames=5, fps=10), False, tmp_path)
    assert png(result._repr_png_()).size == (30, 20)     # the last frame
    markup = result._repr_html_()
    player = Image.open(io.BytesIO(embedded(markup, "image/webp")))
    assert player.n_frames == 5 and player.size == (30, 20) and frame_duration(player) == 100
    assert "5 frames" in markup and folded_recipe(markup)["kind"] == "animate"


def test_a_long_animation_plays_shortened_in_the_same_time(tmp_path, monkeypatch):
    monkeypatch.setattr(reverie.pipelines.show, "PLAYER_FRAMES", 4)
    write_frames(tmp_path, torch.rand(10, 3, 8, 8))
    markup = AnimateResult(AnimateRecipe(frames=10, fps=10), False, tmp_path)._repr_html_()
    player = Image.open(io.BytesIO(embedded(markup, "image/webp")))
    assert player.n_frames == 4 and frame_duration(player) == 250   # 10 frames at 10 fps last 1 s


def test_a_video_result_embeds_its_mp4(tmp_path):
    frames = torch.rand(3, 3, 16, 16)
    write_frames(tmp_path / "frames", frames)
    output = write_mp4(tmp_path / "out.mp4", list(frames.split(1)), fps=12)
    result = VideoResult(VideoRecipe(source="in.mp4"), False, tmp_path / "frames", output=output)
    assert embedded(result._repr_html_(), "video/mp4") == output.read_bytes()


def test_frames_stopped_before_the_first_say_so(tmp_path):
    (tmp_path / "empty").mkdir()
    result = AnimateResult(AnimateRecipe(), True, tmp_path / "empty")
    assert result._repr_png_() is None
    assert "no frames" in result._repr_html_()


@pytest.mark.parametrize("side, expected", [(1000, (384, 192)), (100, (100, 50))])
def test_shrunk_only_ever_shrinks(side, expected):
    from reverie.pipelines.show import shrunk

    assert shrunk(Image.new("RGB", (side, side // 2)), 384).size == expected
