"""Dreaming a video: optical flow and warping, temporal coherence, frame rate and audio kept, exact resume."""
from __future__ import annotations

import subprocess
from dataclasses import replace
from pathlib import Path

import pytest
import torch

import reverie
from reverie.engine.deepdream import DreamSettings
from reverie.engine.flow import optical_flow, warp
from reverie.errors import ReverieError
from reverie.imaging import resize
from reverie.io.video import ffmpeg_exe, read_video, write_mp4
from reverie.objectives import layer
from reverie.engine.video import dream_video_frames
from reverie.pipelines.video import dream_video, run
from reverie import VideoRecipe, read_recipe as recipe_from_json

SIDE = 64
SHIFT = 2            # px the scene moves right each frame
FRAMES = 6
FPS = 12
TINY = DreamSettings(octaves=1, steps=2, jitter=4)


def panned(frames: int = FRAMES, shift: int = SHIFT) -> list[torch.Tensor]:
    """The chelsea photo seen through a 64x64 window moving left, so the scene moves right by
    ``shift`` px per frame: frame k (x) = frame k-1 (x - shift). [1, 3, 64, 64] each."""
    wide = resize(reverie.sample("chelsea"), (SIDE, SIDE + shift * frames))  # [1, 3, 64, 64 + shift * frames]
    right = shift * frames
    return [wide[..., right - shift * k: right - shift * k + SIDE] for k in range(frames)]


def write_video(path: Path, audio: float | None = None) -> Path:
    """A 64x64, 6-frame (0.5 s), 12 fps MP4 of :func:`panned`; with ``audio``, a 440 Hz sine track
    lasting that many seconds too."""
    if audio is None:
        return write_mp4(path, panned(), fps=FPS)
    silent = write_mp4(path.with_name("silent-" + path.name), panned(), fps=FPS)
    subprocess.run([ffmpeg_exe(), "-v", "error", "-y", "-i", str(silent), "-f", "lavfi", "-i",
                    f"sine=frequency=440:duration={audio}", "-map", "0:v", "-map", "1:a", "-c:v", "copy",
                    "-c:a", "aac", str(path)], check=True, capture_output=True)
    silent.unlink()
    return path


def streams(path: Path) -> str:
    """ffmpeg's description of a file's streams."""
    return subprocess.run([ffmpeg_exe(), "-hide_banner", "-i", str(path)], capture_output=True, text=True).stderr


def flicker(frames: list[torch.Tensor], shift: int = SHIFT, border: int = 8) -> float:
    """Temporal incoherence: mean |out[k](x) - out[k-1](x - shift)| over the interior, i.e. how much
    each frame differs from the previous one moved as the scene moved. 0 for a perfectly steady dream."""
    inner = slice(border, SIDE - border)
    return sum(float((now[..., inner, inner] - before[..., inner, slice(border - shift, SIDE - border - shift)])
                     .abs().mean()) for before, now in zip(frames, frames[1:])) / (len(frames) - 1)


def test_flow_recovers_a_known_shift():
    photo = resize(reverie.sample("chelsea"), (80, 80))
    previous, current = photo[..., 8:72, 8:72], photo[..., 9:73, 6:70]  # the scene moved 2 px right, 1 px up
    flow = optical_flow(previous, current)
    assert flow.shape == (64, 64, 2) and flow.dtype == torch.float32
    inner = flow[8:-8, 8:-8].reshape(-1, 2)  # [H, W, 2] -> [pixels, 2]
    assert torch.allclose(inner.median(dim=0).values, torch.tensor([2.0, -1.0]), atol=0.1)


def test_warp_moves_an_image_by_the_flow():
    first, second = panned(2)
    moved = warp(first, torch.tensor([float(SHIFT), 0.0]).expand(SIDE, SIDE, 2))
    assert torch.allclose(moved[..., SHIFT:], second[..., SHIFT:], atol=1e-5)  # all but the strip moved in
    assert torch.allclose(moved[..., :SHIFT], first[..., :1].expand(-1, -1, -1, SHIFT), atol=1e-5)  # border
    zeros = warp(first, torch.tensor([float(SHIFT), 0.0]).expand(SIDE, SIDE, 2), padding="zeros")
    assert float(zeros[..., :SHIFT].abs().max()) < 1e-6


def test_warp_along_the_measured_flow_predicts_the_next_frame():
    first, second = panned(2)
    predicted = warp(first, optical_flow(first, second))
    error = float((predicted - second)[..., 8:-8, 8:-8].abs().mean())
    unmoved = float((first - second)[..., 8:-8, 8:-8].abs().mean())
    assert error < unmoved / 10


def test_warp_rejects_a_flow_of_another_size():
    with pytest.raises(ReverieError, match=r"expected a flow \[64, 64, 2\]"):
        warp(torch.zeros(1, 3, 64, 64), torch.zeros(32, 32, 2))


def test_flow_on_flickers_less_than_flow_off(tiny_cnn):
    sources = panned()
    objective = layer("features.relu3")
    settings = replace(TINY, steps=4, step_size=0.02)

    def dreamed(**options) -> list[torch.Tensor]:
        return [frame.image for frame in dream_video_frames(tiny_cnn, objective, settings, sources, **options)]

    following, in_place, afresh = dreamed(flow=True), dreamed(flow=False), dreamed(blend=0.0)
    assert flicker(following) < 0.8 * flicker(in_place)
    assert flicker(following) < 0.8 * flicker(afresh)
    assert flicker(following) > flicker(sources)  # it did dream: the measure is not blind
    masked = dreamed(occlusion=True)  # a pan hides nothing: the checked flow carries as much
    assert flicker(masked) < 0.8 * flicker(in_place) and flicker(masked) < 0.8 * flicker(afresh)


def test_dream_video_keeps_frame_count_and_frame_rate(tmp_path, tiny_cnn):
    source = write_video(tmp_path / "in.mp4")
    result = dream_video(source, tmp_path / "out.mp4", model=tiny_cnn, objective="layer(features.relu3)",
                         settings=TINY)
    frames, fps, count, has_audio = read_video(result.output)
    assert (count, fps, has_audio) == (FRAMES, FPS, False)
    assert next(frames).shape == (1, 3, SIDE, SIDE)
    assert result.folder == tmp_path / "out-frames" and len(result.frames()) == FRAMES
    stored = recipe_from_json((result.folder / "recipe.json").read_text())
    assert isinstance(stored, VideoRecipe) and (stored.frames, stored.fps, stored.flow) == (FRAMES, FPS, True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.mp4", "out-frames", "out.mp4"]  # no temporaries


def test_dream_video_keeps_the_audio_track(tmp_path, tiny_cnn):
    source = write_video(tmp_path / "in.mp4", audio=1.0)
    assert "Audio:" in streams(source)
    result = dream_video(source, tmp_path / "out.mp4", model=tiny_cnn, objective="layer(features.relu3)",
                         settings=TINY)
    assert "Audio:" in streams(result.output)
    _, fps, count, has_audio = read_video(result.output)
    assert (count, fps, has_audio) == (FRAMES, FPS, True)


def test_an_audio_track_a_little_shorter_than_the_video_keeps_every_frame(tmp_path, tiny_cnn):
    source = write_video(tmp_path / "in.mp4", audio=0.45)  # AAC ends a frame's time before the picture
    assert read_video(source)[2] == FRAMES
    result = dream_video(source, tmp_path / "out.mp4", model=tiny_cnn, objective="layer(features.relu3)",
                         settings=TINY)
    assert read_video(result.output)[2] == FRAMES


def test_resume_after_an_interruption_gives_identical_frames(tmp_path, tiny_cnn):
    source = write_video(tmp_path / "in.mp4")
    recipe = VideoRecipe(source=str(source), model="custom:TinyCNN", objective="layer(features.relu3)",
                         settings=TINY, seed=3)
    whole = run(recipe, tmp_path / "whole.mp4", model=tiny_cnn)

    def stop_after_frame_2(event) -> None:  # a hard interrupt during frame 3: that frame is lost
        if event.frame_index == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run(recipe, tmp_path / "cut.mp4", model=tiny_cnn, progress=stop_after_frame_2)
    assert len(list((tmp_path / "cut-frames").glob("frame-*.png"))) == 3 and not (tmp_path / "cut.mp4").exists()
    with pytest.raises(ReverieError, match="already holds dreamed frames; pass --resume"):
        run(recipe, tmp_path / "cut.mp4", model=tiny_cnn)
    with pytest.raises(ReverieError, match="blend is 0.5 but the frames there were made with 0.8"):
        run(replace(recipe, blend=0.5), tmp_path / "cut.mp4", model=tiny_cnn, resume=True)
    resumed = run(recipe, tmp_path / "cut.mp4", model=tiny_cnn, resume=True)
    assert resumed.first_index == 3
    for index in range(FRAMES):
        name = f"frame-{index:05d}.png"
        assert (whole.folder / name).read_bytes() == (resumed.folder / name).read_bytes(), name


def test_video_recipe_round_trips_and_checks_blend():
    recipe = VideoRecipe(source="clip.mp4", blend=0.5, flow=False, fps=29.97, frames=10)
    assert recipe_from_json(recipe.to_json()) == recipe
    with pytest.raises(ReverieError, match="blend must be a finite number from 0 to 1"):
        VideoRecipe(blend=1.5)


def test_the_command_dreams_a_video_with_the_embedded_model(tmp_path, reverie_cli, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_video(tmp_path / "in.mp4", audio=1.0)
    code, _, err = reverie_cli("dream-video", "in.mp4", "-o", "out/dreamed.mp4", "--layer", "blocks.6",
                               "--octaves", "1", "--steps", "2", "--quiet")
    assert code == 0, err
    assert "wrote out/dreamed.mp4: 6 frames at 12 fps; frames in out/dreamed-frames" in err
    _, fps, count, has_audio = read_video(tmp_path / "out" / "dreamed.mp4")
    assert (count, fps, has_audio) == (FRAMES, FPS, True)
    recipe = recipe_from_json((tmp_path / "out" / "dreamed-frames" / "recipe.json").read_text())
    assert recipe.source == "in.mp4" and recipe.objective == "layer(blocks.6)"


@pytest.mark.parametrize("arguments, message", [
    (["missing.mp4"], "video not found: missing.mp4"),
    (["notes.mp4"], "cannot read video notes.mp4"),
    (["in.mp4", "-o", "out.gif"], "give -o a name ending in .mp4"),
    (["in.mp4", "--flow", "sideways"], "flow must be on or off, got 'sideways'"),
    (["in.mp4", "--blend", "2"], "blend must be a finite number from 0 to 1"),
    (["--resume"], "give the video to dream"),
])
def test_bad_inputs_are_one_line_and_write_nothing(tmp_path, reverie_cli, monkeypatch, arguments, message):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "notes.mp4").write_text("this is not a video\n" * 20)
    (tmp_path / "in.mp4").write_bytes(b"")  # never read: each mistake is found first
    before = sorted(tmp_path.iterdir())
    code, out, err = reverie_cli("dream-video", *arguments, "--quiet")
    assert code == 2
    assert err.startswith("reverie: error: ") and err.count("\n") == 1, err
    assert message in err and out == ""
    assert sorted(tmp_path.iterdir()) == before


def test_an_interrupted_command_says_how_to_resume(tmp_path, reverie_cli, monkeypatch):
    import dataclasses

    from reverie.tasks import TASKS

    def interrupted(*args, **options):
        raise KeyboardInterrupt  # a second Ctrl-C, while the task runs

    monkeypatch.chdir(tmp_path)
    monkeypatch.setitem(TASKS, "video", dataclasses.replace(TASKS["video"], run=interrupted))
    code, _, err = reverie_cli("dream-video", "in.mp4", "-o", "out.mp4", "--quiet")
    assert code == 130
    assert err == ("reverie: interrupted; 0 frames finished in out-frames; continue with: "
                   "reverie dream-video in.mp4 -o out.mp4 --frames-dir out-frames --resume\n")


def test_the_consistency_mask_keeps_agreeing_motion_and_drops_the_rest():
    from reverie.engine.flow import consistency_mask

    forward = torch.tensor([2.0, 0.0]).expand(32, 32, 2).clone()
    backward = -forward
    assert consistency_mask(forward, backward).shape == (1, 1, 32, 32)
    assert bool((consistency_mask(forward, backward)[..., 4:-4, 4:-4] == 1).all())
    backward[:, 16:] = torch.tensor([3.0, 1.0])  # there, the way back leads elsewhere: hidden before, or unsure
    mask = consistency_mask(forward, backward)[0, 0]
    assert bool((mask[:, 20:] == 0).all()) and bool((mask[:, 4:12] == 1).all())


def test_occlusion_is_on_for_new_video_recipes_and_off_for_older_files():
    assert VideoRecipe().occlusion is True
    assert recipe_from_json('{"kind": "video", "source": "in.mp4"}').occlusion is False
