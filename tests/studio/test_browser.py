"""The studio in a real browser (Debian's Chromium, driven by Playwright): what a person does with it."""
from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from playwright.sync_api import expect, sync_playwright

import reverie

CHROMIUM = os.environ.get("REVERIE_CHROMIUM", "/usr/bin/chromium")
# The flags a sandboxed, offline machine needs (no background requests to Google's hosts).
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]
expect.set_options(timeout=60_000)  # a shared 2-core machine: pages and dreams take seconds, not milliseconds
SCREENSHOTS = os.environ.get("REVERIE_SCREENSHOTS")  # a folder to keep the pages' pictures in, if set


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, running_studio, tmp_path):
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    tab = context.new_page()
    tab.set_default_timeout(60_000)
    outside = []
    tab.on("request", lambda request: outside.append(request.url)
           if not request.url.startswith((running_studio.url.rstrip("/"), "data:", "blob:")) else None)
    tab.goto(running_studio.url)
    expect(tab.locator("#dream-run")).to_be_visible()
    yield tab
    assert not outside, f"the page reached outside the studio: {outside[:5]}"
    context.close()


def shoot(tab, name: str) -> None:
    if SCREENSHOTS:
        Path(SCREENSHOTS).mkdir(parents=True, exist_ok=True)
        tab.screenshot(path=str(Path(SCREENSHOTS) / f"{name}.png"), full_page=False)


def set_value(tab, element_id: str, value) -> None:
    field = tab.locator(f"#{element_id} input, #{element_id} textarea").first
    field.fill(str(value))
    field.press("Tab")


def test_watch_a_dream_form_stop_it_download_it_and_drop_it_back(page, tmp_path):
    set_value(page, "dream-size", "160x120")
    page.locator("#dream-group-octaves").click()        # unfold "Octaves and tiles"
    set_value(page, "dream-settings-octaves", 1)
    page.locator("#dream-group-optimisation").click()
    set_value(page, "dream-settings-steps", 100000)
    set_value(page, "dream-seed", 11)
    page.locator("#dream-run").click()
    preview = page.locator("#dream-preview img")
    expect(preview).to_be_visible()
    sources = set()
    for _ in range(200):                                 # the preview changes while the dream runs
        sources.add(preview.get_attribute("src"))
        if len(sources) >= 3:
            break
        page.wait_for_timeout(100)
    assert len(sources) >= 3
    expect(page.locator("#dream-status textarea")).to_have_value(re.compile(r"step \d+/100000 .* left"))
    shoot(page, "dream-running")
    page.locator("#dream-stop").click()
    expect(page.locator("#dream-status textarea")).to_have_value(re.compile("stopped after .* kept"))
    expect(page.locator("#dream-result img")).to_be_visible()
    shoot(page, "dream-stopped")

    with page.expect_download() as download:
        page.locator("#dream-download a").first.click()
    saved = tmp_path / "downloaded.png"
    download.value.save_as(saved)
    recipe = reverie.read_recipe(saved)
    assert recipe.seed == 11 and recipe.stopped_at is not None

    set_value(page, "dream-seed", 99)                     # change a control, then drop the file back in
    page.locator("#drop input[type=file]").set_input_files(str(saved))
    expect(page.locator("#drop-message")).to_contain_text("restored a dream recipe")
    expect(page.locator("#dream-seed input")).to_have_value("11")
    expect(page.locator("#dream-size textarea, #dream-size input").first).to_have_value("160x120")


def test_pick_a_channel_in_the_browser_and_it_becomes_the_objective(page):
    page.locator("#tab-layers-button, button[role=tab]:has-text('Layers')").first.click()
    expect(page.locator("#layers-table")).to_contain_text("blocks.2")
    page.locator("#layers-layer input").fill("blocks.2")
    page.locator("#layers-layer input").press("Enter")
    page.locator("#layers-show").click()
    thumbnails = page.locator("#layers-gallery button img, #layers-gallery img")
    expect(thumbnails.first).to_be_visible()
    expect(page.locator("#layers-status textarea, #layers-status input").first).to_have_value(
        re.compile("16 channels of blocks.2"))
    shoot(page, "layers")
    thumbnails.nth(5).click()
    expect(page.locator("#visualize-objective textarea")).to_have_value("channel(blocks.2, 5)")


def test_paint_a_mask_and_only_the_painted_region_is_dreamed(page, running_studio):
    canvas = page.locator("#dream-mask canvas").first
    expect(canvas).to_be_visible()
    page.wait_for_timeout(1500)                           # the editor loads the photo under the canvas
    box = canvas.bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.3, box["y"] + box["height"] * 0.5)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.6, box["y"] + box["height"] * 0.5, steps=8)
    page.mouse.up()
    set_value(page, "dream-size", "96x64")
    page.locator("#dream-group-octaves").click()
    set_value(page, "dream-settings-octaves", 1)
    page.locator("#dream-group-optimisation").click()
    set_value(page, "dream-settings-steps", 3)
    page.locator("#dream-run").click()
    expect(page.locator("#dream-status textarea")).to_have_value("done")
    recipe = reverie.read_recipe(_last_result(running_studio))
    assert recipe.mask is not None and recipe.mask.startswith("mask-")
    shoot(page, "dream-mask")


def _last_result(running_studio) -> Path:
    return max(running_studio.studio.folder.results.glob("dream-*.png"), key=lambda path: path.stat().st_mtime)


def test_history_lists_this_sessions_results_and_compares_two(page, running_studio):
    assert len([path for path, _ in running_studio.studio.history_items() if path.endswith(".png")]) >= 2
    page.locator("button[role=tab]:has-text('History')").first.click()
    expect(page.locator("#history-gallery img").first).to_be_visible()
    expect(page.locator("#history-compare img")).to_have_count(2)
    shoot(page, "history")


def test_every_task_page_opens_with_its_controls(page):
    for kind, title, control in [("visualize", "Visualize", "objective"), ("animate", "Animate", "objective"),
                                 ("texture", "Texture", "objective"), ("style", "Style", "style-weight")]:
        page.locator(f"button[role=tab]:has-text('{title}')").first.click()
        expect(page.locator(f"#{kind}-{control}")).to_be_visible()
        expect(page.locator(f"#{kind}-run")).to_be_visible()
        shoot(page, kind)
