"""No leaks on the rendered page, in real headless Chromium: a simulate study with condition hiding and
the prediction hidden shows no prediction, no class of the twins (in text or picture), no method name
or family, and the rater can still answer by keyboard."""

from __future__ import annotations

import base64
import io

import numpy as np
import pytest
from PIL import Image

from tests.helpers.browser import BROWSER_MARKS, CHROMIUM, LAUNCH_ARGS, TIMEOUT_MS, press, progress_is
from tests.helpers.platform_world import CLASSES, build_world, study_config, twins_pictures
from tests.helpers.serve_workers import serving
from trustlab.platform.ui.render import HIDDEN_CONDITION_GALLERY_HINT, HIDDEN_CONDITION_HINT

pytestmark = BROWSER_MARKS

METHOD_WORDS = ("grad-cam", "gradcam", "twin", "similar training", "heatmap", "warm colours")


@pytest.fixture
def leak_server(sqlite_settings):
    from trustlab.platform.app import create_app

    world = build_world(sqlite_settings, realistic=True)  # twins pictures print each neighbour's class
    config = study_config(
        "sim", conditions=["gradcam+twin"], n=6, per_rater=2, blind=True, tasks=("simulate", "trust")
    )
    config["show_prediction"] = False
    world.add_study(config, world.alpha_items)
    with serving(create_app(sqlite_settings)) as url:
        yield world, url


def data_uri_pixels(src: str) -> np.ndarray:
    with Image.open(io.BytesIO(base64.b64decode(src.split(",", 1)[1]))) as image:
        return np.asarray(image.convert("RGB"))


def neighbour_pixels(world) -> list[np.ndarray]:
    """The images of every twin neighbour in the world (training items), as stored."""
    from trustlab.db.engine import read_session
    from trustlab.db.queries.items import get_item
    from trustlab.db.schema import Explanation

    with read_session(world.settings) as s:
        ids = {n["item_id"] for row in s.query(Explanation).filter_by(method="twin") for n in row.neighbours}
        paths = [world.settings.images_dir / get_item(s, item_id=i).path for i in ids]
    out = []
    for path in paths:
        with Image.open(path) as image:
            out.append(np.asarray(image.convert("RGB")))
    return out


def test_blinded_simulate_page_names_no_class_and_no_method(leak_server):
    from playwright.sync_api import sync_playwright

    world, base = leak_server
    link = f"{base}/?invite={world.invite('sim')[0]}"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=LAUNCH_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1000})
            page.goto(link)
            for step in range(2):
                progress_is(page, f"{step} / 2")
                page.wait_for_selector(".tl-expl img", timeout=TIMEOUT_MS)
                stage = page.text_content(".tl-stage").lower()
                for word in (*CLASSES, "predicted class", "the model says", *METHOD_WORDS):
                    assert word not in stage, f"the rating screen shows {word!r}: {stage}"
                assert page.locator(".tl-prediction").count() == 0
                assert page.locator(".tl-expl h3").all_text_contents() == ["Explanation 1", "Explanation 2"]
                # Method-neutral hints: the heatmap's picture, the twins' captioned pictures.
                hints = [HIDDEN_CONDITION_HINT, HIDDEN_CONDITION_GALLERY_HINT]
                assert page.locator(".tl-hint").all_text_contents() == hints
                assert page.locator(".tl-neighbours li").count() == 0  # blinded: no neighbour list
                body = page.text_content("body").lower()
                for word in METHOD_WORDS:
                    assert word not in body, f"the page names {word!r}"
                pictures = [
                    data_uri_pixels(src)
                    for src in page.locator(".tl-expl img").evaluate_all(
                        "els => els.map(e => e.getAttribute('src'))"
                    )
                ]
                # The twins are their neighbours' own images (no class printed on them), never a strip.
                assert len(pictures) == 4
                neighbours = neighbour_pixels(world)
                assert all(any(np.array_equal(p, n) for n in neighbours) for p in pictures[1:])
                candidates = [twins_pictures(world, i) for i in world.alpha_items]
                strips = [strip for pair in candidates for strip in pair]
                assert not any(np.array_equal(p, strip) for p in pictures for strip in strips)
                press(page, "1", "4", "Enter")  # a class for "which class did the model predict?", trust 4
            page.wait_for_selector("#tl-completion-code", timeout=TIMEOUT_MS)
        finally:
            browser.close()
