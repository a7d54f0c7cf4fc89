"""The atlas's static site in headless Chromium, served by ``reverie atlas serve``'s server: the index
lists the layers, a layer page shows its thumbnails, and unit links and ``#LAYER:UNIT`` addresses
reach the unit's page."""
from __future__ import annotations

import os
import shutil
import threading

import pytest

from reverie.atlas.serve import atlas_server
from reverie.errors import ReverieError

from .conftest import LAYER

from playwright import sync_api  # noqa: E402 - reverie[all-test]; a missing browser stack fails, never skips
CHROMIUM = os.environ.get("REVERIE_CHROMIUM", shutil.which("chromium") or "/usr/bin/chromium")
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def site(built_atlas):
    """The built atlas served on a free loopback port: yields its base URL."""
    folder, _ = built_atlas
    with atlas_server(folder, 0) as server:
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        yield f"http://127.0.0.1:{server.server_port}/"
        server.shutdown()


@pytest.fixture(scope="module")
def page():
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        yield browser.new_page()
        browser.close()


def test_the_index_lists_the_layers_and_a_layer_page_shows_its_thumbnails(site, page):
    page.goto(site + "index.html")
    assert page.locator("#layers a.layer").all_inner_texts() == [LAYER]
    page.locator("#layers a.layer").first.click()
    page.wait_for_url(f"**/layers/{LAYER}.html")
    thumbnails = page.locator("a.unit img")
    assert thumbnails.count() == 4
    page.wait_for_function("[...document.querySelectorAll('a.unit img')].every(i => i.complete && i.naturalWidth > 0)")
    assert thumbnails.first.evaluate("image => image.naturalWidth") == 32


def test_a_unit_link_and_a_unit_address_reach_the_units_page(site, page):
    page.goto(site + f"layers/{LAYER}.html#{LAYER}:1")
    assert page.evaluate("decodeURIComponent(location.hash)") == f"#{LAYER}:1"
    page.locator(f'[id="{LAYER}:2"]').click()
    page.wait_for_url(f"**/units/{LAYER}/2.html")
    assert page.locator("h1").get_attribute("id") == f"{LAYER}:2"
    assert page.locator(".views img").count() == 3 and page.locator(".examples img").count() == 3

    page.goto(site + f"index.html#{LAYER}:3")  # a unit's stable address
    page.wait_for_url(f"**/units/{LAYER}/3.html")
    page.fill("input[name=unit]", f"{LAYER}:1")  # the jump box
    page.press("input[name=unit]", "Enter")
    page.wait_for_url(f"**/units/{LAYER}/1.html")
    page.fill("input[name=unit]", f"{LAYER}:99")
    page.press("input[name=unit]", "Enter")
    assert "no unit relu3:99" in page.locator("#jump-note").inner_text()


def test_serving_a_folder_without_an_atlas_is_refused(tmp_path):
    with pytest.raises(ReverieError, match="holds no finished atlas"), atlas_server(tmp_path, 0):
        pass


def test_the_server_looks_for_the_file_the_build_writes():
    from reverie.atlas import build, serve

    assert serve.INFO == build.INFO
