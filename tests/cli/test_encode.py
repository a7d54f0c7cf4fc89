"""GIF and MP4 encoding: frame counts, delays, loop flags, order, audio, and ``reverie encode``."""
from __future__ import annotations

import re
import subprocess

import numpy as np
import pytest
import torch
from PIL import Image

from reverie.errors import ReverieError
from reverie.io.frames import FrameFolder, frame_order, frame_path, write_gif
from reverie.io.images import save_image
from reverie.io.video import audio_codec, ffmpeg_exe, read_video, write_mp4

# Flat colours far apart, so each frame is recognisable after GIF palettes and H.264.
COLOURS = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 0), (0, 255, 255)]


def coloured_frames(size=(20, 16)) -> torch.Tensor:
    """[5, 3, H, W], frame i filled with COLOURS[i]; ``size`` is (width, height)."""
    colours = torch.tensor(COLOURS, dtype=torch.float32) / 255  # [5, 3]
    return colours[:, :, None, None].expand(-1, -1, size[1], size[0]).contiguous()


def nearest_colour(rgb) -> int:
    return int(np.argmin([np.abs(np.asarray(c) - np.asarray(rgb, dtype=float)).sum() for c in COLOURS]))


def gif_frames(path) -> tuple[list[int], Image.Image]:
    """The colour index of each frame of a GIF, and the opened image (for its info)."""
    picture = Image.open(path)
    order = []
    for index in range(picture.n_frames):
        picture.seek(index)
        order.append(nearest_colour(picture.convert("RGB").getpixel((5, 5))))
    picture.seek(0)
    return order, picture


@pytest.fixture
def frame_folder(tmp_path):
    """A folder of five coloured frames named as an animation names them."""
    folder = tmp_path / "frames"
    images = coloured_frames()
    for index in range(images.shape[0]):
        save_image(frame_path(folder, index), images[index:index + 1])
    return folder


def test_gif_has_the_frames_delay_and_loop_for_ever(tmp_path):
    write_gif(tmp_path / "a.gif", coloured_frames(), fps=10)
    order, picture = gif_frames(tmp_path / "a.gif")
    with picture:
        assert order == [0, 1, 2, 3, 4]
        assert picture.size == (20, 16)
        assert picture.info["duration"] == 100 and picture.info["loop"] == 0


def test_gif_delay_is_in_hundredths_of_a_second_as_convert_delay(tmp_path):
    write_gif(tmp_path / "a.gif", coloured_frames(), fps=10, delay=7)  # the delay wins over fps
    with Image.open(tmp_path / "a.gif") as picture:
        assert picture.info["duration"] == 70
    for delay in (1, 70000, 2.5):
        with pytest.raises(ReverieError, match="GIF delay must be a whole number of hundredths of a second from 2"):
            write_gif(tmp_path / "b.gif", coloured_frames(), delay=delay)
    assert not (tmp_path / "b.gif").exists()


def test_gif_loop_counts_plays_and_one_means_play_once(tmp_path):
    write_gif(tmp_path / "once.gif", coloured_frames(), fps=25, loop=1)
    write_gif(tmp_path / "thrice.gif", coloured_frames(), fps=25, loop=3)
    with Image.open(tmp_path / "once.gif") as once, Image.open(tmp_path / "thrice.gif") as thrice:
        assert "loop" not in once.info  # no NETSCAPE block: browsers play it once
        assert thrice.info["loop"] == 2  # the block stores repeats after the first play
        assert once.info["duration"] == thrice.info["duration"] == 40


def test_gif_pingpong_has_2n_minus_2_frames_and_reverse_plays_backwards(tmp_path):
    write_gif(tmp_path / "pp.gif", coloured_frames(), fps=10, pingpong=True)
    write_gif(tmp_path / "rev.gif", coloured_frames(), fps=10, reverse=True)
    assert gif_frames(tmp_path / "pp.gif")[0] == [0, 1, 2, 3, 4, 3, 2, 1]
    assert gif_frames(tmp_path / "rev.gif")[0] == [4, 3, 2, 1, 0]
    assert frame_order(1, pingpong=True) == [0] and frame_order(2, pingpong=True) == [0, 1]


def test_gif_reads_back_with_imageio(tmp_path):
    import imageio.v3 as iio

    write_gif(tmp_path / "a.gif", coloured_frames(), fps=5)
    frames = iio.imread(tmp_path / "a.gif", index=None)
    assert frames.shape[:3] == (5, 16, 20)
    assert [nearest_colour(frame[5, 5, :3]) for frame in frames] == [0, 1, 2, 3, 4]
    assert iio.immeta(tmp_path / "a.gif")["duration"] == 200


def test_gif_streams_a_generator_and_a_failure_leaves_no_file(tmp_path):
    def frames():
        for index in range(3):
            yield coloured_frames()[index:index + 1]
        raise ReverieError("frame 3 is unreadable")

    with pytest.raises(ReverieError, match="frame 3 is unreadable"):
        write_gif(tmp_path / "a.gif", frames(), fps=10)
    assert list(tmp_path.iterdir()) == []


def test_gif_refuses_rates_it_cannot_play(tmp_path):
    with pytest.raises(ReverieError, match="at most 50"):
        write_gif(tmp_path / "a.gif", coloured_frames(), fps=60)


def test_mp4_decodes_with_the_frame_count_fps_and_order(tmp_path):
    write_mp4(tmp_path / "a.mp4", folder_of(tmp_path, coloured_frames((32, 24))), fps=8, quality=10)
    frames, fps, count, has_audio = read_video(tmp_path / "a.mp4")
    decoded = list(frames)
    assert (fps, count, has_audio, len(decoded)) == (8.0, 5, False, 5)
    assert decoded[0].shape == (1, 3, 24, 32)
    assert [nearest_colour(frame[0, :, 10, 10].numpy() * 255) for frame in decoded] == [0, 1, 2, 3, 4]


def folder_of(tmp_path, images: torch.Tensor) -> FrameFolder:
    """A FrameFolder of ``images`` [N, 3, H, W] written as PNG files."""
    folder = tmp_path / "folder"
    for index in range(images.shape[0]):
        save_image(frame_path(folder, index), images[index:index + 1])
    return FrameFolder(folder)


def test_mp4_with_odd_sides_is_padded_to_even_ones(tmp_path):
    write_mp4(tmp_path / "odd.mp4", coloured_frames((21, 15)), fps=12)
    frames, fps, count, _ = read_video(tmp_path / "odd.mp4")
    first = next(frames)
    assert first.shape == (1, 3, 16, 22) and count == 5 and fps == 12.0
    frames.close()


def test_mp4_mistakes_are_reported_and_leave_no_file(tmp_path):
    with pytest.raises(ReverieError, match="quality"):
        write_mp4(tmp_path / "a.mp4", coloured_frames(), quality=60)
    with pytest.raises(ReverieError, match="no frames"):
        write_mp4(tmp_path / "a.mp4", iter([]))
    with pytest.raises(ReverieError, match="one size"):
        write_mp4(tmp_path / "a.mp4", [coloured_frames((8, 8))[:1], coloured_frames((10, 8))[:1]])
    assert list(tmp_path.iterdir()) == []


@pytest.fixture(scope="module")
def video_with_sound(tmp_path_factory) -> str:
    """One second of a red 32x32 picture with a 440 Hz tone (AAC), made by the bundled ffmpeg."""
    path = tmp_path_factory.mktemp("video") / "sound.mp4"
    subprocess.run([ffmpeg_exe(), "-v", "error", "-y", "-f", "lavfi", "-i", "sine=frequency=440:duration=1",
                    "-f", "lavfi", "-i", "color=c=red:s=32x32:d=1", "-c:v", "libx264", "-pix_fmt", "yuv420p",
                    "-c:a", "aac", "-shortest", str(path)], check=True, capture_output=True)
    return str(path)


def test_write_mp4_copies_the_audio_track_of_another_video(tmp_path, video_with_sound):
    assert audio_codec(video_with_sound) == "aac"
    write_mp4(tmp_path / "a.mp4", coloured_frames(), fps=5, audio_from=video_with_sound)
    assert audio_codec(tmp_path / "a.mp4") == "aac"
    _, fps, count, has_audio = read_video(tmp_path / "a.mp4")
    assert has_audio and count == 5 and fps == 5.0


def sine(path, seconds: float) -> str:
    subprocess.run([ffmpeg_exe(), "-v", "error", "-y", "-f", "lavfi", "-i", f"sine=duration={seconds}", "-c:a", "aac",
                    str(path)], check=True, capture_output=True)
    return str(path)


def duration(path) -> float:
    """The container's duration in seconds, as ``ffmpeg -i`` reports it."""
    from reverie.io.video import _probe

    hours, minutes, seconds = re.search(r"Duration: (\d+):(\d+):([\d.]+)", _probe(path)).groups()
    return int(hours) * 3600 + int(minutes) * 60 + float(seconds)


def test_audio_longer_than_the_frames_is_cut_at_the_last_frame(tmp_path):
    write_mp4(tmp_path / "a.mp4", coloured_frames(), fps=10, audio_from=sine(tmp_path / "long.m4a", 2))
    assert read_video(tmp_path / "a.mp4")[2] == 5
    assert 0.5 <= duration(tmp_path / "a.mp4") < 0.6  # 5 frames at 10 fps, not the 2 s of sound


def test_audio_shorter_than_the_frames_keeps_every_frame(tmp_path):
    write_mp4(tmp_path / "a.mp4", coloured_frames(), fps=10, audio_from=sine(tmp_path / "short.m4a", 0.2))
    _, _, count, has_audio = read_video(tmp_path / "a.mp4")
    assert count == 5 and has_audio


def test_write_mp4_from_a_silent_video_has_no_audio(tmp_path):
    write_mp4(tmp_path / "silent.mp4", coloured_frames(), fps=5)
    write_mp4(tmp_path / "b.mp4", coloured_frames(), fps=5, audio_from=tmp_path / "silent.mp4")
    assert audio_codec(tmp_path / "b.mp4") is None


def test_write_mp4_reencodes_audio_an_mp4_cannot_carry_as_is(tmp_path):
    source = tmp_path / "pcm.mkv"
    subprocess.run([ffmpeg_exe(), "-v", "error", "-y", "-f", "lavfi", "-i", "sine=duration=1", "-f", "lavfi",
                    "-i", "color=s=32x32:d=1", "-c:v", "ffv1", "-c:a", "pcm_s16le", "-shortest", str(source)],
                   check=True, capture_output=True)
    write_mp4(tmp_path / "c.mp4", coloured_frames(), fps=5, audio_from=source)
    assert audio_codec(tmp_path / "c.mp4") == "aac"


def test_encode_command_reencodes_a_frame_folder(frame_folder, tmp_path, reverie_cli):
    code, _, err = reverie_cli("encode", frame_folder, "--gif", tmp_path / "pp.gif", "--mp4", tmp_path / "pp.mp4",
                               "--fps", "20", "--pingpong", "--loop", "1")
    assert code == 0, err
    assert err.startswith(f"wrote {tmp_path / 'pp.gif'} and {tmp_path / 'pp.mp4'} from 5 frames at 20 fps")
    order, picture = gif_frames(tmp_path / "pp.gif")
    with picture:
        assert order == [0, 1, 2, 3, 4, 3, 2, 1] and picture.info["duration"] == 50 and "loop" not in picture.info
    frames, fps, count, _ = read_video(tmp_path / "pp.mp4")
    assert (fps, count) == (20.0, 8)
    frames.close()

    code, _, err = reverie_cli("encode", frame_folder, "--gif", tmp_path / "rev.gif", "--reverse")
    assert code == 0, err
    assert gif_frames(tmp_path / "rev.gif")[0] == [4, 3, 2, 1, 0]
    with Image.open(tmp_path / "rev.gif") as picture:
        assert picture.info["duration"] == 80  # 12 fps when the folder has no recipe: 8/100 s


def test_encode_command_takes_a_delay(frame_folder, tmp_path, reverie_cli):
    code, _, err = reverie_cli("encode", frame_folder, "--gif", tmp_path / "d.gif", "--delay", "7")
    assert code == 0, err
    assert "at 7/100 s a frame" in err
    with Image.open(tmp_path / "d.gif") as picture:
        assert picture.info["duration"] == 70
    code, _, err = reverie_cli("encode", frame_folder, "--gif", tmp_path / "e.gif", "--delay", "1")
    assert code == 2 and err.startswith("reverie: error: GIF delay must be") and not (tmp_path / "e.gif").exists()


def test_encode_takes_q_for_quality(frame_folder, tmp_path, reverie_cli):
    code, _, err = reverie_cli("encode", frame_folder, "--mp4", tmp_path / "q.mp4", "-q", "35")
    assert code == 0, err
    assert read_video(tmp_path / "q.mp4")[2] == 5
    code, _, err = reverie_cli("encode", frame_folder, "--mp4", tmp_path / "r.mp4", "-q", "60")
    assert code == 2 and "quality (x264 CRF) must be from 0 (lossless) to 51, got 60" in err


def test_encode_command_mistakes_are_one_line(frame_folder, tmp_path, reverie_cli):
    assert reverie_cli("encode", frame_folder)[2] == "reverie: error: give --gif FILE and/or --mp4 FILE to write\n"
    assert reverie_cli("encode", tmp_path / "missing", "--gif", tmp_path / "a.gif")[2] == \
        f"reverie: error: frame folder not found: {tmp_path / 'missing'}\n"
    assert reverie_cli("encode", frame_folder, "--gif", tmp_path / "a.png")[2] == \
        f"reverie: error: --gif needs a .gif file name, got {tmp_path / 'a.png'}\n"
    assert not (tmp_path / "a.gif").exists()
