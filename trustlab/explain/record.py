"""Turn one image's part of an :class:`Attribution` into stored artifacts and an Explanation row.

Saliency methods store the raw map (float16 .npy, model-input resolution) and a heatmap overlay on
the original image; LIME also stores its segmentation and sampled masks (.npz) and draws its
regions; twins store the neighbour list in the row and a strip PNG.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from PIL import Image

from trustlab.config import Settings
from trustlab.db.schema import Explanation, Item, Prediction
from trustlab.explain.base import Attribution
from trustlab.explain.render import heatmap_overlay, lime_overlay, twins_strip
from trustlab.explain.store import save_array, save_arrays, save_png

ImageReader = Callable[[Item], np.ndarray]


def read_item_pixels(settings: Settings, item: Item) -> np.ndarray:
    """uint8 [H, W, 3] of an item's normalised PNG (original resolution)."""
    with Image.open(settings.images_dir / item.path) as image:
        return np.asarray(image.convert("RGB"), dtype=np.uint8)


def resize_map(saliency: np.ndarray, width: int, height: int, *, nearest: bool = False) -> np.ndarray:
    """float32 map resized to [height, width] (the model squashes images to a square, so does this)."""
    mode = Image.Resampling.NEAREST if nearest else Image.Resampling.BILINEAR
    return np.asarray(Image.fromarray(np.asarray(saliency, dtype=np.float32)).resize((width, height), mode))


def build_explanation(
    settings: Settings,
    *,
    method: str,
    params: dict[str, Any],
    key: str,
    prediction: Prediction,
    item: Item,
    attribution: Attribution,
    index: int,
    class_names: list[str],
    compute_ms: float,
    faithfulness: dict[str, Any] | None = None,
    gallery_items: dict[int, Item] | None = None,
) -> Explanation:
    """Write the artifacts of image ``index`` of ``attribution`` and return its (unsaved) row."""
    target = attribution.targets[index]
    extra = attribution.extras[index] if attribution.extras else {}
    pixels = read_item_pixels(settings, item)
    height, width = pixels.shape[:2]
    # No title on the picture: raters see these overlays, and a blinded study must not reveal the
    # method's name, nor a `simulate` task the explained (predicted) class. Captions come from the app.
    title = ""
    row = Explanation(
        prediction_id=prediction.id,
        method=method,
        params_key=key,
        params=params,
        seed=params.get("seed"),
        compute_ms=float(compute_ms),
        faithfulness=faithfulness or {},
        extra={"target": class_names[target]},
    )
    if attribution.neighbours is not None:
        neighbours = attribution.neighbours[index]
        row.neighbours = [
            {
                "item_id": n["item_id"],
                "similarity": round(n["similarity"], 6),
                "label": class_names[n["label"]],
            }
            for n in neighbours
        ]
        tiles = [
            (
                read_item_pixels(settings, gallery_items[n["item_id"]]),
                class_names[n["label"]],
                n["similarity"],
            )
            for n in neighbours
        ]
        row.overlay_path = save_png(settings, twins_strip(pixels, tiles, title=title))
        return row
    saliency = attribution.maps[index]
    row.raw_path = save_array(settings, saliency)
    if "masks" in extra:  # LIME: everything needed to reproduce the explanation exactly
        segments, masks = extra["segments"], extra["masks"]
        row.extra.update(
            {
                "lime_npz": save_arrays(settings, segments=segments.astype(np.int32), masks=masks),
                "labels": [class_names[c] for c in extra["labels"]],
                "coefficients": extra["coefficients"],
                "intercepts": extra["intercepts"],
                "r2": extra["r2"],
                "positive": extra["positive"],
                "negative": extra["negative"],
            }
        )
        big_segments = resize_map(segments.astype(np.float32), width, height, nearest=True)
        overlay = lime_overlay(
            pixels, big_segments.astype(np.int32), extra["positive"], extra["negative"], title=title
        )
    else:
        overlay = heatmap_overlay(pixels, resize_map(saliency, width, height), title=title)
    row.overlay_path = save_png(settings, overlay)
    return row
