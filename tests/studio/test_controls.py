"""The page's controls come from the recipe schema and round-trip every recipe exactly."""
from __future__ import annotations

from dataclasses import replace

import pytest

from reverie.cli.common import parse_size
from reverie.errors import ReverieError
from reverie.pipelines.animate import AnimateRecipe
from reverie.pipelines.caricature import CaricatureRecipe
from reverie.pipelines.dream import DreamRecipe
from reverie.pipelines.visualize import VisualizeRecipe
from reverie.recipe import StopPoint
from reverie.studio.controls import (
    FILE_FIELDS,
    GROUPS,
    controls_for,
    file_fields,
    recipe_from,
    values_from,
)
from reverie.tasks import TASKS

# One recipe per task with values away from the defaults, so a control that loses its value shows.
CHANGED = {
    "dream": DreamRecipe(objective="channel(blocks.9, 7)", size=(96, 64), seed=3, blend_ramp="radial",
                         settings=replace(DreamRecipe().settings, octaves=2, steps=7, step_size=0.02, jitter=5)),
    "visualize": VisualizeRecipe(layer="blocks.9", channels=(0, 3, 5), size=(64, 48), param="cppn", alpha=True,
                                 decorrelate=False),
    "caricature": CaricatureRecipe(layers=("blocks.5", "blocks.8"), power=2.0, size=(80, 80)),
    "animate": AnimateRecipe(transforms=("zoom(0.05)", "rotate(2)"), keyframes=("3: steps=4",), frames=9, fps=6.5,
                             size=(64, 64)),
}


@pytest.mark.parametrize("kind", sorted(TASKS))
def test_every_field_a_person_sets_has_a_control_in_a_named_group(kind):
    controls = controls_for(kind)
    assert controls, kind
    assert {control.group for control in controls} <= set(GROUPS)
    paths = {control.path for control in controls}
    assert "settings.steps" in paths and "seed" in paths and "model.name" in paths
    assert not paths & set(FILE_FIELDS) and not any(path.endswith("_sha256") for path in paths)
    assert set(file_fields(kind)) <= set(FILE_FIELDS)


@pytest.mark.parametrize("kind", sorted(TASKS))
def test_default_controls_describe_the_default_recipe(kind):
    default = TASKS[kind].recipe()
    files = {field: getattr(default, field) for field in file_fields(kind)}
    assert recipe_from(kind, values_from(default), files) == replace(default, model=replace(default.model, trusted=False))


@pytest.mark.parametrize("kind", sorted(CHANGED))
def test_a_recipe_restored_into_controls_builds_the_same_recipe(kind):
    recipe = replace(CHANGED[kind], stopped_at=StopPoint(5, "step", "octave 1/2 step 5/7"))
    files = {field: getattr(recipe, field) for field in file_fields(kind)}
    rebuilt = recipe_from(kind, values_from(recipe), files, recipe.stopped_at)
    assert rebuilt.to_json() == recipe.to_json()


def test_a_bad_size_gets_the_command_lines_message():
    values = values_from(DreamRecipe())
    with pytest.raises(ReverieError) as page:
        recipe_from("dream", {**values, "size": "96x"}, {"source": "sample:chelsea"})
    with pytest.raises(ReverieError) as command_line:
        parse_size("96x")
    assert str(page.value) == str(command_line.value)


def test_out_of_range_numbers_get_the_recipe_readers_message():
    values = values_from(DreamRecipe())
    with pytest.raises(ReverieError, match="steps must be a whole number from 1 to 100000"):
        recipe_from("dream", {**values, "settings.steps": 0}, {})


def test_channels_accept_ranges_as_on_the_command_line():
    values = values_from(VisualizeRecipe(layer="blocks.9", channels=(1,)))
    recipe = recipe_from("visualize", {**values, "channels": "0-2, 7"}, {})
    assert recipe.channels == (0, 1, 2, 7)


def test_a_number_that_may_be_blank_is_text_the_browser_sends_as_typed():
    # A browser's number box sends 0 for blank, which an optional count (threads: 1 or more) refuses.
    threads = next(control for control in controls_for("dream") if control.path == "threads")
    assert values_from(DreamRecipe())["threads"] == ""
    assert recipe_from("dream", {**values_from(DreamRecipe()), "threads": ""}, {}).threads is None
    assert recipe_from("dream", {**values_from(DreamRecipe()), "threads": " 2 "}, {}).threads == 2
    assert values_from(DreamRecipe(threads=3))["threads"] == "3"
    with pytest.raises(ReverieError, match=f"{threads.label} must be a number or blank, got 'two'"):
        recipe_from("dream", {**values_from(DreamRecipe()), "threads": "two"}, {})
