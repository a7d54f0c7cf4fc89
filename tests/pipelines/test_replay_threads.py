"""A recipe replays to the same pixels whatever the replaying machine's CPU thread count."""
from __future__ import annotations

import json
from dataclasses import replace

import torch

from reverie.engine.deepdream import DreamSettings
from reverie.machine import machine_difference
from reverie.pipelines.dream import DreamRecipe, run
from reverie.recipe import from_json

# The default model's default dream: its 1x1 convolutions split their sums by thread count.
TINY = DreamRecipe(source="noise", size=(48, 48), settings=DreamSettings(octaves=1, steps=3, min_octave_size=16))


def dream_at(process_threads: int, recipe: DreamRecipe):
    previous = torch.get_num_threads()
    torch.set_num_threads(process_threads)
    try:
        result = run(recipe, device="cpu")
        assert torch.get_num_threads() == process_threads  # the recipe's count was for its run only
        return result
    finally:
        torch.set_num_threads(previous)


def test_a_dream_replays_to_the_same_pixels_at_1_and_2_threads(lite0):
    made = dream_at(2, TINY)
    assert made.recipe.threads == 2 and made.recipe.made_with.startswith(f"torch {torch.__version__}")
    shared = from_json(made.recipe.to_json())  # as another machine reads it
    at_one, at_two = dream_at(1, shared), dream_at(2, shared)
    assert torch.equal(at_one.image, made.image) and torch.equal(at_two.image, made.image)
    # Without the recorded count the pixels would follow the machine: why the count is recorded.
    assert not torch.equal(dream_at(1, replace(TINY, threads=1)).image, made.image)


def test_a_recipe_written_before_threads_were_recorded_uses_the_machines_count():
    data = json.loads(TINY.to_json())
    del data["threads"], data["made_with"]
    old = from_json(json.dumps(data))
    assert old.threads is None and old.made_with is None
    assert dream_at(1, replace(old, settings=replace(old.settings, steps=1))).recipe.threads == 1


def test_a_replay_with_another_torch_or_device_says_pixels_may_differ():
    cpu = torch.device("cpu")
    assert machine_difference(None, cpu) is None
    assert machine_difference(f"torch {torch.__version__}, cpu", cpu) is None
    note = machine_difference("torch 2.1.0, cuda", cpu)
    assert "torch 2.1.0, cuda" in note and "pixels may differ" in note and "\n" not in note


def test_reverie_info_says_what_the_same_pixels_need(reverie_cli, tmp_path):
    path = tmp_path / "made.png"
    dream_at(1, replace(TINY, settings=replace(TINY.settings, steps=1))).save(path)
    code, out, err = reverie_cli("info", path)
    assert code == 0 and json.loads(out)["threads"] == 1
    assert f"made with torch {torch.__version__}, cpu at 1 CPU threads (a replay uses 1)" in err
    assert "pixels may differ" not in err
