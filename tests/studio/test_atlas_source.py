"""An atlas opened by the studio becomes its channel browser's thumbnails."""
from __future__ import annotations

import pytest
from gradio_client import Client

import reverie
from reverie.atlas import AtlasSettings, build_atlas
from reverie.errors import ReverieError
from reverie.models import ModelSpec
from reverie.studio.app import Studio
from reverie.studio.server import start


@pytest.fixture(scope="module")
def atlas_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("atlas")
    build_atlas(folder, AtlasSettings(layers=("blocks.2",), channels=(0, 1, 2), size=32, steps=2), model="efficientnet-lite0",
                device="cpu")
    return folder


def test_the_layers_tab_shows_the_atlas_units_and_their_recipes(atlas_folder, tmp_path):
    from tests.studio.conftest import free_port

    running = start(tmp_path / "studio", port=free_port(), block=False, device="cpu", atlas=atlas_folder)
    try:
        message, status, gallery = Client(running.url, verbose=False).predict("blocks.2", api_name="/atlas_layer")
        assert not message and "3 units of blocks.2 from the atlas" in status
        assert [item["caption"].split(" (")[0] for item in gallery] == ["channel 0", "channel 1", "channel 2"]
        image = gallery[1]["image"]["path"] if isinstance(gallery[1]["image"], dict) else gallery[1]["image"]
        recipe = reverie.read_recipe(image)
        assert "channel(blocks.2, 1, batch=1)" in recipe.objective and recipe.item == 1   # unit 1 of its batch
    finally:
        running.app.close()


def test_an_atlas_of_another_model_is_refused_with_one_line(atlas_folder, tmp_path):
    with pytest.raises(ReverieError, match="maps efficientnet-lite0, not efficientnet-lite1"):
        Studio(tmp_path / "studio", ModelSpec("efficientnet-lite1"), "cpu", atlas=atlas_folder)
