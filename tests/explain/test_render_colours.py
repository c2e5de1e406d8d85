"""Overlay colours a person with a colour-vision deficiency can read: a perceptually uniform heatmap by
default (a study may ask for jet), LIME's regions in blue (for) and orange (against)."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib import colormaps

from trustlab.explain.render import (
    COLOUR_BAR_WIDTH,
    DEFAULT_CMAP,
    DISPLAY_SIDE,
    LIME_NEGATIVE,
    LIME_POSITIVE,
    MARGIN,
    heatmap_overlay,
    lime_overlay,
)


def _bar_top(image) -> np.ndarray:
    pixels = np.asarray(image)
    return pixels[0, DISPLAY_SIDE + MARGIN + COLOUR_BAR_WIDTH // 2].astype(int)


@pytest.mark.parametrize("cmap", [None, "jet"])
def test_heatmap_colour_bar_is_the_chosen_colour_map(cmap):
    pixels = np.full((32, 32, 3), 128, dtype=np.uint8)
    saliency = np.linspace(0, 1, 32 * 32, dtype=np.float32).reshape(32, 32)
    kwargs = {} if cmap is None else {"cmap": cmap}
    image = heatmap_overlay(pixels, saliency, **kwargs)
    expected = (np.array(colormaps[cmap or DEFAULT_CMAP](1.0)[:3]) * 255).astype(int)
    assert DEFAULT_CMAP in ("viridis", "cividis")
    assert np.abs(_bar_top(image) - expected).max() <= 2


def test_unknown_colour_map_is_refused_with_the_choices():
    with pytest.raises(ValueError, match="viridis"):
        heatmap_overlay(np.zeros((8, 8, 3), np.uint8), np.ones((8, 8)), cmap="rainbow")


def test_lime_regions_are_blue_for_and_orange_against():
    pixels = np.zeros((32, 32, 3), dtype=np.uint8)
    segments = np.zeros((32, 32), dtype=np.int32)
    segments[:, 16:] = 1
    panel = np.asarray(lime_overlay(pixels, segments, positive=[0], negative=[1])).astype(int)
    left, right = panel[DISPLAY_SIDE // 2, DISPLAY_SIDE // 4], panel[DISPLAY_SIDE // 2, 3 * DISPLAY_SIDE // 4]
    # On black, a region's tint is half its colour: blue's blue channel leads, orange's red one.
    assert np.abs(left - LIME_POSITIVE * 255 * 0.5).max() <= 2 and left[2] > left[0]
    assert np.abs(right - LIME_NEGATIVE * 255 * 0.5).max() <= 2 and right[0] > right[2]
