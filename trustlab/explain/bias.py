"""Global view of stored saliency maps: per-class mean maps and a region bias report.

The bias report asks, for a region of the image (e.g. where the demo's watermark sits), what share
of each explanation's positive saliency falls inside it, averaged per method and per predicted
class. A class whose share is well above the region's share of the image area leans on whatever
is in that region: it is flagged.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from trustlab.config import Settings
from trustlab.db.engine import unit_of_work
from trustlab.db.queries.explanations import list_explanations
from trustlab.db.queries.models import get_model_version
from trustlab.explain.base import ExplainError
from trustlab.explain.faithfulness import mass_inside
from trustlab.explain.store import load_array

Box = tuple[float, float, float, float]
# A class is flagged when its mean share inside the region exceeds this multiple of the region's area share.
DEFAULT_FLAG_FACTOR = 2.0


def parse_region(text: str) -> Box:
    """``"x0,y0,x1,y1"`` (original-image pixels, x1/y1 exclusive) -> a box; errors name the format."""
    try:
        x0, y0, x1, y1 = (float(v) for v in text.split(","))
    except ValueError:
        raise ExplainError(f"--region {text!r} must be four numbers x0,y0,x1,y1 in image pixels") from None
    if x1 <= x0 or y1 <= y0:
        raise ExplainError(f"--region {text!r}: need x1 > x0 and y1 > y0")
    return x0, y0, x1, y1


def watermark_region(demo_json: Path) -> Box:
    """The watermark box written by the demo generator (``demo.json`` or its folder)."""
    path = demo_json / "demo.json" if demo_json.is_dir() else demo_json
    try:
        box = json.loads(path.read_text())["watermark_box"]
    except (OSError, ValueError, KeyError) as exc:
        raise ExplainError(f"{path} holds no watermark_box: generate the demo with --bias watermark") from exc
    if not box:
        raise ExplainError(f"{path} has no watermark (watermark_box is empty): pass --region instead")
    return tuple(float(v) for v in box)  # type: ignore[return-value]


def region_mask(box: Box, *, width: int, height: int, size: tuple[int, int]) -> np.ndarray:
    """bool [h, w] of the map grid ``size`` = (h, w) covering ``box`` given in a width x height image
    (a map cell counts when it overlaps the box: the model squashes images to its square input)."""
    h, w = size
    x0, y0, x1, y1 = box
    mask = np.zeros((h, w), dtype=bool)
    c0, c1 = math.floor(x0 * w / width), math.ceil(x1 * w / width)
    r0, r1 = math.floor(y0 * h / height), math.ceil(y1 * h / height)
    mask[max(r0, 0) : min(r1, h), max(c0, 0) : min(c1, w)] = True
    return mask


def class_mean_maps(maps: np.ndarray, labels: Sequence[str]) -> dict[str, np.ndarray]:
    """{label: mean of the maps with that label} for maps float [N, H, W] (each scaled to max 1 first,
    so that images with strong saliency do not dominate)."""
    maps = np.asarray(maps, dtype=np.float64)
    peak = np.abs(maps).reshape(len(maps), -1).max(axis=1)
    scaled = maps / np.where(peak > 0, peak, 1)[:, None, None]
    labels = np.asarray(labels)
    return {str(label): scaled[labels == label].mean(axis=0) for label in dict.fromkeys(labels.tolist())}


def _stored_maps(settings: Settings, *, model: str, method: str, split: str | None):
    """Maps [N, H, W], predicted labels, item sizes of the newest explanation per prediction."""
    with unit_of_work(settings) as session:
        version = get_model_version(session, name=model)
        rows = list_explanations(session, model_version_id=version.id, method=method, split=split)
    newest = {}
    for explanation, prediction, item in rows:
        if explanation.raw_path:
            newest[prediction.id] = (explanation, prediction, item)
    if not newest:
        return None
    entries = list(newest.values())
    maps = np.stack([load_array(settings, e.raw_path).astype(np.float32) for e, _, _ in entries])
    labels = [p.predicted_label for _, p, _ in entries]
    sizes = [(item.width, item.height) for _, _, item in entries]
    return maps, labels, sizes


def mean_maps(
    settings: Settings, *, model: str, method: str, split: str | None = None
) -> dict[str, np.ndarray]:
    """Per predicted class, the mean of the stored maps of ``method`` (see :func:`class_mean_maps`)."""
    stored = _stored_maps(settings, model=model, method=method, split=split)
    if stored is None:
        raise ExplainError(f"no stored {method} maps for model {model!r}: run `trustlab explain` first")
    return class_mean_maps(stored[0], stored[1])


def bias_report(
    settings: Settings,
    *,
    model: str,
    region: Box,
    methods: Sequence[str],
    split: str | None = None,
    factor: float = DEFAULT_FLAG_FACTOR,
) -> pd.DataFrame:
    """Share of saliency inside ``region`` per method and predicted class.

    Returns
    -------
    DataFrame with columns method, predicted_class, n, mean_share (0..1, mean over explanations
    of positive saliency mass inside the region), area_share (region area / image area),
    ratio (mean_share / area_share) and flagged (ratio > ``factor``), sorted by method and ratio.
    """
    records = []
    for method in methods:
        stored = _stored_maps(settings, model=model, method=method, split=split)
        if stored is None:
            raise ExplainError(f"no stored {method} maps for model {model!r}: run `trustlab explain` first")
        maps, labels, sizes = stored
        masks = np.stack([region_mask(region, width=w, height=h, size=maps.shape[1:]) for w, h in sizes])
        shares = mass_inside(maps, masks)
        area = float(masks.mean())
        frame = pd.DataFrame({"predicted_class": labels, "share": shares})
        for label, group in frame.groupby("predicted_class", sort=True):
            mean_share = float(np.nanmean(group["share"])) if group["share"].notna().any() else float("nan")
            ratio = mean_share / area if area > 0 else float("nan")
            records.append(
                {
                    "method": method,
                    "predicted_class": label,
                    "n": len(group),
                    "mean_share": mean_share,
                    "area_share": area,
                    "ratio": ratio,
                    "flagged": bool(ratio > factor),
                }
            )
    report = pd.DataFrame.from_records(records)
    return report.sort_values(["method", "ratio"], ascending=[True, False]).reset_index(drop=True)
