"""Overlays a person can read: heatmaps with a colour scale, LIME regions, twin strips (PIL images).

Small training images (32-64 px) are scaled up to ``DISPLAY_SIDE`` so raters can see them.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib import colormaps
from PIL import Image, ImageDraw, ImageFont
from skimage.segmentation import mark_boundaries

DISPLAY_SIDE = 256
OVERLAY_ALPHA = 0.45
COLOUR_BAR_WIDTH = 16
MARGIN = 6
FONT_SIZE = 12
THUMB_SIDE = 128
# Wide enough for the "no training items" note when a class has none.
MIN_STRIP_TILES = 3
# Non-negative maps use a sequential colour map; signed maps a diverging one centred on 0. The default
# is perceptually uniform and readable with colour-vision deficiencies (viridis: dark purple = low,
# yellow = high); a study may ask for `jet` to match a paper's figures. RdBu is colour-blind safe.
DEFAULT_CMAP = "viridis"
COLORMAPS = ("viridis", "cividis", "jet")
DIVERGING_CMAP = "RdBu_r"
# LIME's regions in the Okabe-Ito blue (for the class) and orange (against): told apart with any
# common colour-vision deficiency, unlike green and red. Boundaries in white.
LIME_POSITIVE = np.array([0, 114, 178]) / 255
LIME_NEGATIVE = np.array([230, 159, 0]) / 255
LIME_BOUNDARY = (1.0, 1.0, 1.0)
LIME_TINT = 0.5
# The colour bar's labels in words (top, middle, bottom), not the map's raw numbers: a heatmap's
# scale is relative (each map is scaled to its own maximum). Signed maps: for / against the
# explained class. Method-neutral, so that under condition hiding the pictures name no method.
SCALE_WORDS = ("more\nimportant", "", "less\nimportant")
SIGNED_SCALE_WORDS = ("for the\nclass", "no effect", "against\nthe class")


def _font() -> ImageFont.ImageFont:
    return ImageFont.load_default(size=FONT_SIZE)


def _upscale(pixels: np.ndarray, side: int = DISPLAY_SIDE) -> Image.Image:
    """uint8 [H, W, 3] -> PIL image whose longer side is ``side`` (nearest: keeps pixels crisp)."""
    image = Image.fromarray(pixels)
    scale = side / max(image.size)
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    return image.resize(size, Image.NEAREST)


def _with_title(panel: Image.Image, title: str) -> Image.Image:
    if not title:
        return panel
    height = FONT_SIZE + 2 * MARGIN
    out = Image.new("RGB", (panel.width, panel.height + height), "white")
    ImageDraw.Draw(out).text((MARGIN, MARGIN // 2), title, fill="black", font=_font())
    out.paste(panel, (0, height))
    return out


def heatmap_overlay(
    pixels: np.ndarray, saliency: np.ndarray, *, title: str = "", cmap: str = DEFAULT_CMAP
) -> Image.Image:
    """The image with the saliency map blended over it and a labelled colour bar on the right.

    pixels: uint8 [H, W, 3]; saliency: float [h, w] (any resolution, resized to the image); cmap: one
    of ``COLORMAPS`` for non-negative maps (signed maps always use the diverging ``DIVERGING_CMAP``).
    """
    if cmap not in COLORMAPS:
        raise ValueError(f"unknown colour map {cmap!r}; choose one of {list(COLORMAPS)}")
    sal = np.asarray(saliency, dtype=np.float32)
    signed = bool(sal.min() < 0)
    if signed:
        bound = float(np.abs(sal).max()) or 1.0
        low, high, ramp_map = -bound, bound, colormaps[DIVERGING_CMAP]
    else:
        low, high, ramp_map = 0.0, float(sal.max()) or 1.0, colormaps[cmap]
    base = _upscale(pixels)
    scaled = Image.fromarray(((sal - low) / (high - low) * 255).clip(0, 255).astype(np.uint8))
    scaled = np.asarray(scaled.resize(base.size, Image.BILINEAR), dtype=np.float32) / 255
    colour = (ramp_map(scaled)[..., :3] * 255).astype(np.float32)
    blend = (1 - OVERLAY_ALPHA) * np.asarray(base, dtype=np.float32) + OVERLAY_ALPHA * colour
    panel = Image.new("RGB", (base.width + COLOUR_BAR_WIDTH + 7 * FONT_SIZE, base.height), "white")
    panel.paste(Image.fromarray(blend.astype(np.uint8)), (0, 0))
    ramp = np.linspace(1, 0, base.height)[:, None].repeat(COLOUR_BAR_WIDTH, axis=1)
    panel.paste(Image.fromarray((ramp_map(ramp)[..., :3] * 255).astype(np.uint8)), (base.width + MARGIN, 0))
    draw, font, x_text = ImageDraw.Draw(panel), _font(), base.width + COLOUR_BAR_WIDTH + 2 * MARGIN
    top, middle, bottom = SIGNED_SCALE_WORDS if signed else SCALE_WORDS
    draw.multiline_text((x_text, 0), top, fill="black", font=font, spacing=2)
    if middle:
        draw.text((x_text, base.height // 2 - FONT_SIZE // 2), middle, fill="black", font=font)
    lines = bottom.count("\n") + 1
    draw.multiline_text((x_text, base.height - lines * (FONT_SIZE + 2) - 2), bottom, fill="black", font=font,
                        spacing=2)
    return _with_title(panel, title)


def lime_overlay(
    pixels: np.ndarray,
    segments: np.ndarray,
    positive: Sequence[int],
    negative: Sequence[int],
    *,
    title: str = "",
) -> Image.Image:
    """Positive superpixels tinted blue, negative orange, all superpixel boundaries drawn.

    pixels: uint8 [H, W, 3]; segments: int [H, W].
    """
    image = pixels.astype(np.float64) / 255
    for ids, colour in ((positive, LIME_POSITIVE), (negative, LIME_NEGATIVE)):
        region = np.isin(segments, list(ids))
        image[region] = (1 - LIME_TINT) * image[region] + LIME_TINT * colour
    side = DISPLAY_SIDE
    big = np.asarray(_upscale((image * 255).astype(np.uint8), side))
    seg_big = np.asarray(Image.fromarray(segments.astype(np.int32)).resize(big.shape[1::-1], Image.NEAREST))
    marked = mark_boundaries(big, seg_big, color=LIME_BOUNDARY)
    panel = Image.fromarray((marked * 255).astype(np.uint8))
    legend = Image.new("RGB", (panel.width, FONT_SIZE + 2 * MARGIN), "white")
    draw = ImageDraw.Draw(legend)
    positive_rgb, negative_rgb = (tuple(int(c * 255) for c in rgb) for rgb in (LIME_POSITIVE, LIME_NEGATIVE))
    draw.rectangle([MARGIN, MARGIN, MARGIN + FONT_SIZE, MARGIN + FONT_SIZE], fill=positive_rgb)
    draw.text((2 * MARGIN + FONT_SIZE, MARGIN - 2), "for the class", fill="black", font=_font())
    half = panel.width // 2
    draw.rectangle([half, MARGIN, half + FONT_SIZE, MARGIN + FONT_SIZE], fill=negative_rgb)
    draw.text((half + FONT_SIZE + MARGIN, MARGIN - 2), "against", fill="black", font=_font())
    out = Image.new("RGB", (panel.width, panel.height + legend.height), "white")
    out.paste(panel, (0, 0))
    out.paste(legend, (0, panel.height))
    return _with_title(out, title)


def twins_strip(
    query: np.ndarray, neighbours: Sequence[tuple[np.ndarray, str, float]], *, title: str = ""
) -> Image.Image:
    """The query image, then each neighbour captioned with its label and cosine similarity.

    query and neighbour images: uint8 [H, W, 3]; neighbours: (pixels, label, similarity).
    """
    caption = 2 * FONT_SIZE + 2 * MARGIN
    tiles = [(query, "this image", None)] + [(p, label, sim) for p, label, sim in neighbours]
    width = max(len(tiles), MIN_STRIP_TILES) * (THUMB_SIDE + MARGIN) + MARGIN
    out = Image.new("RGB", (width, THUMB_SIDE + caption + MARGIN), "white")
    draw, font = ImageDraw.Draw(out), _font()
    text_y = THUMB_SIDE + MARGIN + 2
    for i, (pixels, label, sim) in enumerate(tiles):
        x0 = MARGIN + i * (THUMB_SIDE + MARGIN)
        out.paste(_upscale(pixels, THUMB_SIDE), (x0, MARGIN))
        draw.text((x0, text_y), label[:18], fill="black", font=font)
        if sim is not None:
            draw.text((x0, text_y + FONT_SIZE + 2), f"similarity {sim:.2f}", fill="black", font=font)
    if not neighbours:
        note = "no training items of this class"
        draw.text((THUMB_SIDE + 2 * MARGIN, MARGIN), note, fill="black", font=font)
    return _with_title(out, title)
