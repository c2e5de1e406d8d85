"""The rating screen's HTML (pure functions): alt texts say what a picture shows and name no method
when blinded; the heatmap hint follows the study's colour map; LIME's colours are named; the end of a
link-mode study carries the completion code and the (escaped) redirect target."""

from __future__ import annotations

import re

import numpy as np
from PIL import Image

from trustlab.platform.ui_render import (
    BLIND_ALT,
    HEATMAP_HINTS,
    attention_html,
    done_link_html,
    explanation_alt,
    stage_html,
)

NEIGHBOURS = [{"label": "disc", "similarity": 0.91}, {"label": "square", "similarity": 0.5}]


def test_alt_texts_describe_the_picture():
    assert explanation_alt(None, []) == BLIND_ALT
    for word in ("gradcam", "grad-cam", "lime", "twin", "heatmap", "region"):
        assert word not in BLIND_ALT.lower()
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
