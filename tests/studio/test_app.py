"""The studio through its HTTP API (gradio_client), as the browser's page drives it."""
from __future__ import annotations

import re
import time
from pathlib import Path

import numpy as np
import pytest
from gradio_client import Client, handle_file
from PIL import Image

import reverie
from reverie.pipelines.dream import DreamRecipe
from reverie.studio.controls import shown
from reverie.studio.inputs import PAGE_FILES

QUICK = {"model.name": "efficientnet-lite0", "settings.octaves": 2, "settings.steps": 4, "settings.jitter": 4,
         "settings.min_octave_size": 16, "seed": 0}


def page_args(studio, kind: str, files: list | None = None, **changes) -> list:
    """A page's run arguments: (pick, upload) per file input (the mask: one value), then every control."""
    page = studio.pages[kind]
    values = {control.path: shown(control, control.default) for control in page.controls}
    values.update({path: value for path, value in QUICK.items() if path in values})
    values.update(changes)
    if files is None:
        files = [None if item.kind == "mask" else (item.default, None) for item in PAGE_FILES.get(kind, [])]
    flat = []
    for item in files:
        flat += [item] if not isinstance(item, tuple) else list(item)
    for control in page.controls:
        if control.kind == "keyframes":   # a table through the API: its headers and rows
            values[control.path] = {"headers": ["frame", "changes"], "data": values[control.path] or [[None, ""]]}
    blank = {control.path: None if control.kind in ("integer", "number") else "" for control in page.controls}
    return [*flat, *[blank[control.path] if values[control.path] is None else values[control.path]
                     for control in page.controls]]


DREAM_PATHS: list[str] = []


def dream_args(**changes):
    """The /run_dream arguments, small and quick (64x48, two octaves of 4 steps), no mask, no guide."""
    pick, upload = changes.pop("pick", "chelsea"), changes.pop("upload", None)
    return page_args(STUDIO[0], "dream", [(pick, upload), None, ("none", None)], **{"size": "64x48", "objective": "", **changes})


STUDIO: list = []


@pytest.fixture(scope="module")
def client(running_studio):
    STUDIO[:] = [running_studio.studio]
    DREAM_PATHS[:] = [control.path for control in running_studio.studio.pages["dream"].controls]
    return Client(running_studio.url, verbose=False)


def pixels(path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"))


def test_a_run_streams_previews_then_the_png_whose_recipe_replays_to_the_same_pixels(client, running_studio):
    job = client.submit(*dream_args(**{"settings.steps": 12}), api_name="/run_dream")
    updates = list(job)
    final = job.outputs()[-1]
    previews = [update[2] for update in updates if isinstance(update[2], str)]
    assert len(previews) >= 2, updates                     # the preview changed while it ran
    message, status, _, result, downloads, recipe_text = final[:6]
    assert status == "done" and not message
    recipe = reverie.read_recipe(result)                   # the served file still carries its recipe
    assert recipe.to_json() == reverie.read_recipe(downloads[0]).to_json() == recipe_text
    saved = list(running_studio.studio.folder.results.glob("dream-*.png"))
    assert saved and any(pixels(path).tobytes() == pixels(result).tobytes() for path in saved)
    replayed = reverie.run(recipe, device="cpu")
    assert np.array_equal(np.asarray(replayed.picture()), pixels(result))


def test_stop_returns_the_partial_result_saved_with_where_it_stopped(client):
    job = client.submit(*dream_args(**{"settings.steps": 100_000}), api_name="/run_dream")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not any("step" in str(update[1]) for update in job.outputs()):
        time.sleep(0.1)
    client.predict(api_name="/stop_dream")
    final = job.result(timeout=30)
    assert final[1].startswith("stopped after") and "kept" in final[1]
    recipe = reverie.read_recipe(final[3])
    assert recipe.stopped_at is not None and recipe.stopped_at.unit == "step"
    replayed = reverie.run(recipe, device="cpu")            # replays to the same stop, the same pixels
    assert replayed.stopped and np.array_equal(np.asarray(replayed.picture()), pixels(final[3]))


@pytest.mark.parametrize(("change", "line"), [
    ({"size": "64x"}, "size must be WIDTHxHEIGHT in pixels, e.g. 512x384; got '64x'"),
    ({"objective": "channel(blocks.99, 3)"}, "unknown layer 'blocks.99' (nearest: blocks.9"),
    ({"settings.steps": 0}, "steps must be a whole number from 1 to 100000"),
    ({"pick": "my file"}, "no start from file: upload one or pick a sample"),
])
def test_a_mistake_is_one_line_in_the_page_and_the_server_goes_on(client, change, line):
    message = client.predict(*dream_args(**change), api_name="/run_dream")[0]
    assert line.replace("'", "&#x27;") in message and "Traceback" not in message
    assert client.predict(*dream_args(), api_name="/run_dream")[1] == "done"


def test_dropping_an_output_restores_every_control_and_stop_point(client):
    final = client.predict(*dream_args(seed=7, objective="channel(blocks.9, 7)", size="48x48"),
                           api_name="/run_dream")
    restored = client.predict(handle_file(final[3]), api_name="/restore")
    note, values = restored[0], restored[1:]
    assert "restored a dream recipe" in note
    pick, upload, mask, guide_pick, guide_upload, *controls = values[:5 + len(DREAM_PATHS)]
    by_path = dict(zip(DREAM_PATHS, controls))
    assert pick == "chelsea" and by_path["seed"] == 7 and by_path["objective"] == "channel(blocks.9, 7)"
    assert by_path["size"] == "48x48" and by_path["settings.steps"] == 4 and guide_pick == "none"
    again = client.predict(pick, upload, mask, guide_pick, guide_upload, *controls,  # Run on the restored page
                           api_name="/run_dream")
    assert pixels(again[3]).tobytes() == pixels(final[3]).tobytes()


def test_an_uploaded_photo_is_kept_in_the_studio_and_named_by_the_recipe(client, running_studio, tmp_path):
    photo = tmp_path / "holiday photo.png"
    Image.fromarray((np.indices((40, 50)).sum(0) % 255).astype(np.uint8)).convert("RGB").save(photo)
    final = client.predict(*dream_args(pick="my file", upload=handle_file(str(photo)), size=""), api_name="/run_dream")
    recipe = reverie.read_recipe(final[3])
    assert recipe.source.startswith("holiday-photo-") and "/" not in recipe.source
    assert (running_studio.studio.folder.inputs / recipe.source).is_file()
    assert Image.open(final[3]).size == (50, 40)
    restored = client.predict(handle_file(final[3]), api_name="/restore")
    assert restored[1] == "my file" and restored[2]   # the stored photo comes back into the page


@pytest.mark.parametrize(("recipe", "line"), [
    (DreamRecipe(source="/etc/hostname"), "is not a file the studio keeps"),
    (DreamRecipe(source="../secret.png"), "is not a file the studio keeps"),
    (DreamRecipe(model="my_models:build"), "is not one the studio was started with"),
])
def test_a_dropped_recipe_cannot_reach_files_or_models_outside_the_studio(client, tmp_path, recipe, line):
    path = tmp_path / "recipe.json"
    path.write_text(recipe.to_json())
    restored = client.predict(handle_file(str(path)), api_name="/restore")
    assert line in restored[0]


def test_the_channel_browser_renders_a_page_of_channels_then_reads_them_from_its_cache(client, running_studio):
    message, status, gallery = client.predict("blocks.2", 0, api_name="/channels")
    assert not message and len(gallery) == 16 and "16 channels of blocks.2" in status
    assert [item["caption"] for item in gallery][:3] == ["channel 0", "channel 1", "channel 2"]
    thumbnail = gallery[3]["image"]["path"] if isinstance(gallery[3]["image"], dict) else gallery[3]["image"]
    assert reverie.read_recipe(thumbnail).layer == "blocks.2"
    cached = {path: path.stat().st_mtime_ns for path in running_studio.studio.folder.thumbnails.rglob("*.png")}
    assert len(cached) >= 16
    again = client.predict("blocks.2", 0, api_name="/channels")[2]
    assert len(again) == 16
    after = {path: path.stat().st_mtime_ns for path in running_studio.studio.folder.thumbnails.rglob("*.png")}
    assert after == cached                                  # read from the cache: nothing rendered again


def test_ranking_by_a_photo_lists_the_channels_it_excites_most_first(client, lite0):
    photo = reverie.imaging.sample("coffee")
    path = Image.fromarray((photo[0].permute(1, 2, 0).numpy() * 255).astype(np.uint8))
    from tempfile import NamedTemporaryFile
    with NamedTemporaryFile(suffix=".png", delete=False) as handle:
        path.save(handle.name)
    message, _, gallery = client.predict("blocks.2", handle_file(handle.name), api_name="/rank_channels")
    assert not message
    means = [float(item["caption"].split("·")[1]) for item in gallery]
    assert means == sorted(means, reverse=True) and len(means) == 16


def test_an_animation_is_served_as_an_mp4_that_carries_its_recipe_and_restores_the_page(client, running_studio):
    args = page_args(running_studio.studio, "animate", size="48x48", frames=3, transforms="zoom(0.05)", fps=6)
    final = client.predict(*args, api_name="/run_animate")
    assert final[1] == "done", final[:2]
    video = final[3]["video"] if isinstance(final[3], dict) else final[3]
    recipe = reverie.read_recipe(video)
    assert recipe.kind == "animate" and recipe.frames == 3 and recipe.transforms == ("zoom(0.05)",)
    assert sorted(Path(path).suffix for path in final[4]) == [".gif", ".mp4"]
    restored = client.predict(handle_file(video), api_name="/restore")
    assert "restored an animate recipe" in restored[0]


def test_a_stopped_animation_resumes_to_the_frames_an_uninterrupted_one_makes(client, running_studio):
    studio = running_studio.studio
    args = page_args(studio, "animate", size="40x40", frames=10, transforms="zoom(0.05)", fps=6,
                     **{"settings.octaves": 1, "settings.steps": 12})   # slow enough to stop part-way
    whole = client.predict(*args, api_name="/run_animate")
    job = client.submit(*args, api_name="/run_animate")
    deadline = time.monotonic() + 60
    # the status starts "frame N ·" with N the frame being dreamed: stop once frame 0 is finished
    while time.monotonic() < deadline and not any(re.match(r"frame [1-9]\d* ·", str(update[1]))
                                                  for update in job.outputs()):
        time.sleep(0.05)
    client.predict(api_name="/stop_animate")
    stopped = job.result(timeout=60)
    assert stopped[1].startswith("stopped after"), stopped[1]
    unfinished = studio.unfinished("animate")
    assert unfinished
    resumed = client.predict(unfinished[0], api_name="/resume_animate")
    assert resumed[1] == "done"
    first = reverie.read_recipe(whole[3]["video"] if isinstance(whole[3], dict) else whole[3])
    folders = sorted(studio.folder.frames.glob("animate-*"), key=lambda path: path.stat().st_mtime)
    made = {folder.name: sorted(folder.glob("frame-*.png")) for folder in folders}
    complete = [frames for frames in made.values() if len(frames) == first.frames]
    assert len(complete) >= 2
    assert all(pixels(a).tobytes() == pixels(b).tobytes() for a, b in zip(complete[0], complete[-1]))


def test_a_texture_comes_with_a_glb_for_the_3d_viewer(client, running_studio):
    args = page_args(running_studio.studio, "texture", size="32x32", render_size=48, views=1,
                     **{"settings.steps": 2})
    final = client.predict(*args, api_name="/run_texture")
    assert final[1] == "done", final[:2]
    glb = final[6]
    assert str(glb).endswith(".glb") if isinstance(glb, str) else glb["path"].endswith(".glb")
    assert reverie.read_recipe(final[3]).mesh == "torus.obj"


def test_a_second_run_waits_its_turn_and_sees_its_place_in_line(running_studio):
    first, second = Client(running_studio.url, verbose=False), Client(running_studio.url, verbose=False)
    STUDIO[:] = [running_studio.studio]
    running = first.submit(*dream_args(**{"settings.steps": 100_000}), api_name="/run_dream")
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not any("step" in str(update[1]) for update in running.outputs()):
            time.sleep(0.05)
        waiting = second.submit(*dream_args(), api_name="/run_dream")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and waiting.status().code.name != "IN_QUEUE":
            time.sleep(0.1)
        status = waiting.status()
        assert status.code.name == "IN_QUEUE" and status.rank == 0, status
    finally:
        first.predict(api_name="/stop_dream")   # never leave a run holding the device for the tests after
    assert running.result(timeout=60)[1].startswith("stopped after")
    assert waiting.result(timeout=60)[1] == "done"


def test_an_uploaded_video_is_dreamed_into_an_mp4_with_its_recipe(client, running_studio, tmp_path):
    import torch

    from reverie.io.video import write_mp4

    clip = write_mp4(tmp_path / "clip.mp4", [torch.rand(1, 3, 32, 48, generator=torch.Generator().manual_seed(i))
                                             for i in range(3)], fps=4)
    args = page_args(running_studio.studio, "video", [("my file", handle_file(str(clip)))],
                     **{"settings.octaves": 1, "settings.steps": 2})
    final = client.predict(*args, api_name="/run_video")
    assert final[1] == "done", final[:2]
    recipe = reverie.read_recipe(final[4][0])
    assert recipe.kind == "video" and recipe.source.startswith("clip-") and recipe.source.endswith(".mp4")
    assert (running_studio.studio.folder.inputs / recipe.source).read_bytes() == clip.read_bytes()


def test_the_animation_draft_is_a_small_quick_gif_of_the_same_animation(client, running_studio):
    args = page_args(running_studio.studio, "animate", size="200x100", frames=40, transforms="zoom(0.05)")
    draft, status, message = client.predict(*args, api_name="/draft_animate")
    assert not message and status.startswith("draft done")
    picture = Image.open(draft)
    assert picture.format == "GIF" and max(picture.size) <= 96 and picture.n_frames == 12
    assert picture.size[0] == 2 * picture.size[1]                 # the animation's shape, scaled down


def test_an_animation_stopped_inside_its_first_frame_says_nothing_was_finished(client, running_studio):
    args = page_args(running_studio.studio, "animate", size="40x40", frames=3,
                     **{"settings.octaves": 1, "settings.steps": 100_000})
    job = client.submit(*args, api_name="/run_animate")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not any("step" in str(update[1]) for update in job.outputs()):
        time.sleep(0.05)
    client.predict(api_name="/stop_animate")
    final = job.result(timeout=60)
    assert "stopped before its first frame was finished: nothing to keep" in final[0] and final[1] == "stopped"
