"""The channel picker: thumbnails of a layer's channels, choosing one by its button, running it."""
from __future__ import annotations

import io

import pytest
import torch
from PIL import Image

import reverie
from reverie.engine.optimize import RenderSettings
from reverie.errors import ReverieError

pytest.importorskip("ipywidgets", reason="the picker needs reverie[notebook]")
from reverie.notebook.picker import ChannelPicker, activation_thumbnails

LAYER = "features.relu3"   # tiny_cnn's deepest ReLU: 24 channels


@pytest.fixture
def picker(tiny_cnn, photo32):
    return ChannelPicker(photo32, model=tiny_cnn, layer=LAYER, page=8, side=32, size=(32, 32),
                         settings=reverie.DreamSettings(octaves=1, steps=2),
                         render_settings=RenderSettings(steps=2), thumbnail_steps=2)


def test_activation_thumbnails_light_the_photo_where_each_channel_fires(tiny_cnn, photo32):
    lit, strength = activation_thumbnails(tiny_cnn, LAYER, photo32)
    assert lit.shape == (24, 3, 32, 32) and strength.shape == (24,)
    strongest, weakest = int(strength.argmax()), int(strength.argmin())
    assert lit[strongest].mean() > lit[weakest].mean()       # normalised over the layer, not per channel
    assert torch.all(lit <= photo32[0] + 1e-6)                # only ever darkened, never invented


def test_a_page_of_thumbnails_and_buttons(picker):
    assert len(picker.grid.children) == 8
    assert [button.description for button in picker._buttons] == [str(c) for c in range(8)]
    picker.next_button.click()
    assert [button.description for button in picker._buttons] == [str(c) for c in range(8, 16)]
    picture = Image.open(io.BytesIO(picker.grid.children[0].children[0].value))
    assert max(picture.size) == 32


def test_most_active_first_orders_the_pages(picker):
    picker.order_menu.value = "most active first"
    _, strength = picker._layer_activations()
    shown = [int(button.description) for button in picker._buttons]
    assert shown[0] == int(strength.argmax()) and strength[shown[0]] >= strength[shown[-1]]


def test_clicking_a_channel_and_running_it_dreams_that_channel(picker):
    assert picker.run_button.disabled
    picker._buttons[3].click()
    assert picker.objective == f"channel({LAYER}, 3)" and not picker.run_button.disabled
    assert picker._buttons[3].button_style == "success"
    picker.run_button.click()
    assert isinstance(picker.result, reverie.DreamResult) and picker.result.recipe.objective == picker.objective
    assert "<details><summary>recipe</summary>" in picker.view.value


def test_visualize_and_rendered_thumbnails(picker):
    picker.thumbnail_kind.value = "rendered"
    assert len(picker.grid.children) == 8 and len(picker._rendered) == 8
    picker.select(5)
    picker.task_menu.value = "visualize"
    result = picker.run()
    assert isinstance(result, reverie.VisualizeResult) and result.recipe.objective == f"channel({LAYER}, 5)"


def test_a_mistake_is_one_line_in_the_widget(picker):
    with pytest.raises(ReverieError, match="channels 0-23, not 99"):
        picker.select(99)
    picker.run_button.disabled = False
    picker.run_button.click()   # nothing chosen: the widget says so instead of raising into the browser's log
    assert "choose a channel first" in picker.status.value
    with pytest.raises(ReverieError, match="not one of the model's dreamable layers"):
        ChannelPicker(model=picker.model, layer="features.nope")
