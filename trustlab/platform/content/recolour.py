"""Heatmaps in the study's colour map (``display.colormap``).

Explanations are stored drawn in the default colour map (``explain.render.DEFAULT_CMAP``, viridis).
A study that asks for another one (``jet``, to match a paper's figures) gets each saliency heatmap
drawn again from its stored map, once, and kept in the artifact cache (``cache/colormap/NAME/``);
LIME regions and twin strips have no colour map and are served as stored.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

from trustlab.config import Settings
from trustlab.db.schema import Explanation
from trustlab.explain.record import resize_map
from trustlab.explain.render import DEFAULT_CMAP, heatmap_overlay
from trustlab.explain.store import load_array
from trustlab.platform.content.paths import existing_file


def is_heatmap(row: Explanation) -> bool:
    """A saliency heatmap drawn with a colour map (not LIME's regions, not twins)."""
    return bool(row.raw_path) and not row.neighbours and "lime_npz" not in (row.extra or {})


def overlay_in(settings: Settings, row: Explanation, *, item_path: Path, colormap: str) -> Path:
    """The explanation's picture with its heatmap in ``colormap`` (the stored one for the default, or
    when it is not a heatmap). ``item_path``: the explained image (original resolution)."""
    stored = existing_file(settings.artifacts_dir, row.overlay_path)
    if colormap == DEFAULT_CMAP or not is_heatmap(row):
        return stored
    name = hashlib.sha256(f"{row.raw_path}|{row.overlay_path}".encode()).hexdigest()
    path = settings.artifacts_dir / "cache" / "colormap" / colormap / f"{name}.png"
    if path.is_file():
        return path
    with Image.open(item_path) as image:
        pixels = np.asarray(image.convert("RGB"), dtype=np.uint8)
    height, width = pixels.shape[:2]
    saliency = resize_map(load_array(settings, row.raw_path).astype(np.float32), width, height)
    picture = heatmap_overlay(pixels, saliency, cmap=colormap)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".png")
    with os.fdopen(fd, "wb") as handle:  # several workers may draw the same picture at once
        picture.save(handle, format="PNG")
    os.replace(tmp, path)
    return path
