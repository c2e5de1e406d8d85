"""The heatmap colour bar says in words what its ends mean: "more important" at the top and
"less important" at the bottom (for / against the class on a signed map), not "1 / more / 0"."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import ImageDraw

from trustlab.explain.render import heatmap_overlay


@pytest.fixture
def drawn(monkeypatch):
    """Every text the renderer draws, in order."""
    texts: list[str] = []
    for name in ("text", "multiline_text"):
        original = getattr(ImageDraw.ImageDraw, name)

        def record(self, xy, text, *args, _original=original, **kwargs):
            texts.append(text)
            return _original(self, xy, text, *args, **kwargs)

        monkeypatch.setattr(ImageDraw.ImageDraw, name, record)
    return texts


def _words(texts: list[str]) -> list[str]:
    return [" ".join(t.split()) for t in texts if t.strip()]


@pytest.mark.parametrize("cmap", ["viridis", "cividis", "jet"])
def test_a_non_negative_map_reads_more_important_to_less_important(drawn, cmap):
    pixels = np.full((32, 32, 3), 128, np.uint8)
    heatmap_overlay(pixels, np.linspace(0, 1, 32 * 32).reshape(32, 32), cmap=cmap)
    labels = _words(drawn)
    assert labels[0] == "more important" and labels[-1] == "less important"
    assert not any(ch.isdigit() for label in labels for ch in label), labels


def test_a_signed_map_reads_for_and_against_the_class(drawn):
    pixels = np.full((32, 32, 3), 128, np.uint8)
    heatmap_overlay(pixels, np.linspace(-1, 1, 32 * 32).reshape(32, 32))
    labels = _words(drawn)
    assert labels[0] == "for the class" and labels[-1] == "against the class" and "no effect" in labels
    assert not any(ch.isdigit() for label in labels for ch in label), labels


def test_the_labels_are_drawn_beside_the_bar():
    """Text pixels in the label column at the top and the bottom (the words fit the picture)."""
    pixels = np.full((32, 32, 3), 128, np.uint8)
    image = np.asarray(heatmap_overlay(pixels, np.linspace(0, 1, 32 * 32).reshape(32, 32)))
    from trustlab.explain.render import COLOUR_BAR_WIDTH, DISPLAY_SIDE, MARGIN

    column = image[:, DISPLAY_SIDE + COLOUR_BAR_WIDTH + 2 * MARGIN :]
    dark = column.min(axis=2) < 100
    assert dark[:30].any() and dark[-30:].any()
    assert not dark[:, -2:].any(), "a label runs off the picture's right edge"
