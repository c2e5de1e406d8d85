"""The rating screen's HTML (pure functions): alt texts say what a picture shows and name no method
under condition hiding; the heatmap hint follows the study's colour map and reads its bar in words;
LIME's colours are named; twins are their neighbours as pictures with captions and the catalogue's
description; the end of a link study carries the completion code and the (escaped) redirect target."""

from __future__ import annotations

import html
import re

import numpy as np
import pytest
from PIL import Image

from trustlab.platform.ui.render import (
    HEATMAP_HINTS,
    HIDDEN_CONDITION_ALT,
    HIDDEN_CONDITION_GALLERY_HINT,
    UNLABELLED_EXAMPLES_HINT,
    attention_html,
    done_link_html,
    explanation_alt,
    stage_html,
)

NEIGHBOURS = [{"label": "disc", "similarity": 0.91}, {"label": "square", "similarity": 0.5}]


def test_alt_texts_describe_the_picture():
    assert explanation_alt(None, []) == HIDDEN_CONDITION_ALT
    for word in ("gradcam", "grad-cam", "lime", "twin", "heatmap", "region"):
        assert word not in HIDDEN_CONDITION_ALT.lower()
    heat = explanation_alt("heatmap", [])
    assert "heatmap" in heat and "yellow" in heat.lower()
    assert "red, yellow" in explanation_alt("heatmap", [], "jet")
    regions = explanation_alt("regions", [])
    assert "Blue" in regions and "orange" in regions
    examples = explanation_alt("examples", NEIGHBOURS)
    assert "disc, similarity 0.91" in examples and "square, similarity 0.50" in examples


def test_stage_images_carry_their_alt_and_the_hint_follows_the_colour_map(tmp_path):
    path = tmp_path / "x.png"
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(path)
    payload = {
        "assignment_id": 7,
        "prediction": {"label": "disc", "confidence": 0.8},
        "explanations": [{"title": "Grad-CAM", "kind": "heatmap", "image_url": "/x", "status": "ready"}],
    }
    page = stage_html(payload, item_path=path, explanation_path=lambda i: path, colormap="jet")
    alts = re.findall(r'alt="([^"]*)"', page)
    assert alts[0] == "The image to judge." and "heatmap" in alts[1]
    assert HEATMAP_HINTS["jet"] in page and 'data-assignment="7"' in page
    practice = stage_html(payload, item_path=path, explanation_path=lambda i: path, stage_id="practice-0")
    assert 'data-assignment="practice-0"' in practice and HEATMAP_HINTS["viridis"] in practice


def test_endings_and_attention_checks():
    url = "https://app.prolific.com/submissions/complete?cc=ABC&x=<y>"
    page = done_link_html("Thanks", "Done.", code="ABC", url=url, redirecting="Back…", link_text="Go")
    assert 'id="tl-completion-code">ABC<' in page
    assert 'data-href="https://app.prolific.com/submissions/complete?cc=ABC&amp;x=&lt;y&gt;"' in page
    assert "tl-redirect" not in done_link_html("T", "x", url=None, redirecting="r", link_text="l")
    check = attention_html("Please read", "Choose <No>.", stage_id="attention-0")
    assert "Choose &lt;No&gt;." in check and 'data-assignment="attention-0"' in check


# ---- twins as pictures of their own ---------------------------------------------------------------

def _pictures(tmp_path, labels=("disc", "square", "disc")):
    from trustlab.platform.content.neighbours import NeighbourPicture

    out = []
    for k, label in enumerate(labels):
        path = tmp_path / f"n{k}.png"
        Image.fromarray(np.full((32, 32, 3), 40 * k, np.uint8)).save(path)
        out.append(NeighbourPicture(path=path, similarity=0.97 - 0.1 * k, label=label))
    return out


def _twin_page(tmp_path, expl, pictures, *, prediction=True):
    path = tmp_path / "x.png"
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(path)
    payload = {"assignment_id": 3, "explanations": [expl]}
    if prediction:
        payload["prediction"] = {"label": "disc", "confidence": 0.8}
    return stage_html(payload, item_path=path, explanation_path=lambda i: path,
                      neighbour_pictures=lambda i: pictures)


def _text(page: str) -> str:
    return re.sub(r"<[^>]+>", " ", page)


@pytest.mark.parametrize("method", ["twin", "counterfactual_twin"])
def test_twins_show_each_neighbour_with_its_caption_and_the_catalogues_description(tmp_path, method):
    from trustlab.explanation_methods import METHODS

    expl = {"method": method, "title": METHODS[method].title, "kind": "examples", "image_url": "/x",
            "status": "ready", "neighbours": [{"label": "disc", "similarity": 0.97}] * 3}
    page = _twin_page(tmp_path, expl, _pictures(tmp_path))
    assert page.count('class="tl-neighbour-img') == 3 and "tl-expl-img" not in page  # not the strip
    assert f'<p class="tl-hint">{html.escape(METHODS[method].description)}</p>' in page
    captions = re.findall(r"<figcaption>(.*?)</figcaption>", page)[1:]  # the first is "The image"
    assert [_text(c).split() for c in captions] == [
        ["disc", "similarity", "0.97"], ["square", "similarity", "0.87"], ["disc", "similarity", "0.77"]
    ]
    alts = re.findall(r'class="tl-neighbour-img[^"]*" src="[^"]*" alt="([^"]*)"', page)
    assert alts[0] == "Training image 1 of 3: disc, similarity 0.97"


def test_twin_descriptions_in_the_catalogue_say_how_to_read_them():
    from trustlab.explanation_methods import METHODS

    for method in ("twin", "counterfactual_twin"):
        text = METHODS[method].description
        assert "similarity" in text and "1.00" in text and text.endswith(".")
    assert "predicted class" in METHODS["twin"].description
    assert "next most likely class" in METHODS["counterfactual_twin"].description


def test_blinded_twins_are_pictures_that_name_no_method(tmp_path):
    expl = {"method": "explanation-1", "title": "The explanation", "image_url": "/x", "status": "ready"}
    page = _twin_page(tmp_path, expl, _pictures(tmp_path))
    assert page.count('class="tl-neighbour-img') == 3
    assert HIDDEN_CONDITION_GALLERY_HINT in page and "similarity 0.97" in page
    lowered = page.lower()
    for word in ("twin", "training", "similar training", "examples", "counterfactual", "predicted class"):
        assert word not in lowered, f"a blinded twin names {word!r}"


def test_hidden_prediction_twins_show_no_class(tmp_path):
    pictures = _pictures(tmp_path, labels=(None, None, None))
    expl = {"method": "twin", "title": "Similar training images", "kind": "examples", "image_url": "/x",
            "status": "ready", "neighbours": [{"similarity": 0.97}] * 3}
    page = _text(_twin_page(tmp_path, expl, pictures, prediction=False))
    assert "disc" not in page and "square" not in page
    assert UNLABELLED_EXAMPLES_HINT in page and "predicted class" not in page


def test_without_neighbour_pictures_the_strip_is_shown(tmp_path):
    expl = {"method": "twin", "title": "T", "kind": "examples", "image_url": "/x", "status": "ready",
            "neighbours": NEIGHBOURS}
    page = _twin_page(tmp_path, expl, [])
    assert "tl-expl-img" in page and "tl-neighbour-img" not in page and "tl-neighbours" in page


def test_heatmap_hints_read_the_colour_bar_in_words():
    for hint in HEATMAP_HINTS.values():
        assert "less important" in hint and "more important" in hint
