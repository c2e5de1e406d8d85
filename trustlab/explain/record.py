"""Turn one image's part of an :class:`Attribution` into stored artifacts and an Explanation row.

Saliency methods store the raw map (float16 .npy, model-input resolution) and a heatmap overlay on
the original image; LIME also stores its segmentation and sampled masks (.npz) and draws its
regions; twins store the neighbour list in the row and a strip PNG.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image

from trustlab.config import Settings
from trustlab.db.schema import Explanation, Item, Prediction
from trustlab.explain.base import Attribution
from trustlab.explain.render import heatmap_overlay, lime_overlay, twins_strip
from trustlab.explain.store import save_array, save_arrays, save_png

ImageReader = Callable[[Item], np.ndarray]
# No title on the pictures: raters see these overlays, and under condition hiding they must not
# reveal the method's name, nor a `simulate` task the explained (predicted) class. Captions come
# from the app.
NO_TITLE = ""


def read_item_pixels(settings: Settings, item: Item) -> np.ndarray:
    """uint8 [H, W, 3] of an item's normalised PNG (original resolution)."""
    with Image.open(settings.images_dir / item.path) as image:
        return np.asarray(image.convert("RGB"), dtype=np.uint8)


def resize_map(saliency: np.ndarray, width: int, height: int, *, nearest: bool = False) -> np.ndarray:
    """float32 map resized to [height, width] (the model squashes images to a square, so does this)."""
    mode = Image.Resampling.NEAREST if nearest else Image.Resampling.BILINEAR
    return np.asarray(Image.fromarray(np.asarray(saliency, dtype=np.float32)).resize((width, height), mode))


@dataclass(frozen=True)
class ExplainedBatch:
    """One explainer call's output and what each of its rows records: the method, its resolved
    parameters and their key, the model's class names, the amortised milliseconds per image, and
    (twins) the gallery items the neighbours come from."""

    method: str
    params: dict[str, Any]
    key: str
    attribution: Attribution
    class_names: list[str]
    compute_ms: float
    gallery_items: dict[int, Item] | None = None


def build_explanation(
    settings: Settings,
    batch: ExplainedBatch,
    index: int,
    *,
    prediction: Prediction,
    item: Item,
    faithfulness: dict[str, Any] | None = None,
) -> Explanation:
    """Write the artifacts of image ``index`` of ``batch`` and return its (unsaved) row."""
    attribution, class_names = batch.attribution, batch.class_names
    row = Explanation(
        prediction_id=prediction.id,
        method=batch.method,
        params_key=batch.key,
        params=batch.params,
        seed=batch.params.get("seed"),
        compute_ms=float(batch.compute_ms),
        faithfulness=faithfulness or {},
        extra={"target": class_names[attribution.targets[index]]},
    )
    pixels = read_item_pixels(settings, item)
    if attribution.neighbours is not None:
        row.overlay_path = _twins_strip(settings, row, batch, index, pixels)
        return row
    saliency = attribution.maps[index]
    row.raw_path = save_array(settings, saliency)
    extra = attribution.extras[index] if attribution.extras else {}
    height, width = pixels.shape[:2]
    if "masks" in extra:  # LIME: everything needed to reproduce the explanation exactly
        overlay = _lime_overlay(settings, row, extra, class_names, pixels)
    else:
        overlay = heatmap_overlay(pixels, resize_map(saliency, width, height), title=NO_TITLE)
    row.overlay_path = save_png(settings, overlay)
    return row


def _twins_strip(settings: Settings, row: Explanation, batch: ExplainedBatch, index: int,
                 pixels: np.ndarray) -> str:
    """Record the neighbours in ``row`` and save the strip of the image beside them; its path."""
    neighbours = batch.attribution.neighbours[index]
    class_names = batch.class_names
    row.neighbours = [
        {"item_id": n["item_id"], "similarity": round(n["similarity"], 6), "label": class_names[n["label"]]}
        for n in neighbours
    ]
    tiles = [
        (read_item_pixels(settings, batch.gallery_items[n["item_id"]]), class_names[n["label"]],
         n["similarity"])
        for n in neighbours
    ]
    return save_png(settings, twins_strip(pixels, tiles, title=NO_TITLE))


def _lime_overlay(settings: Settings, row: Explanation, extra: dict[str, Any], class_names: list[str],
                  pixels: np.ndarray) -> Image.Image:
    """Record LIME's segmentation, masks and fit in ``row``; its regions drawn on the image."""
    segments, masks = extra["segments"], extra["masks"]
    row.extra.update(
        {
            "lime_npz": save_arrays(settings, segments=segments.astype(np.int32), masks=masks),
            "labels": [class_names[c] for c in extra["labels"]],
            **{key: extra[key] for key in ("coefficients", "intercepts", "r2", "positive", "negative")},
        }
    )
    height, width = pixels.shape[:2]
    big_segments = resize_map(segments.astype(np.float32), width, height, nearest=True)
    return lime_overlay(pixels, big_segments.astype(np.int32), extra["positive"], extra["negative"],
                        title=NO_TITLE)
