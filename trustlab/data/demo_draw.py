"""Draw one synthetic vehicle advert: background, vehicle, optional distractor text, optional
watermark logo, optional contact text, then sensor-like noise.

All random choices are made up front in :func:`plan_advert` (an :class:`AdvertSpec`), so the same
advert can be rendered with and without its contact text (tests use that to check the mask covers
exactly what the text changed). Coordinates are pixels in a ``IMAGE_SIZE`` square image.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from trustlab.data.demo_text import contact_text, distractor_text

IMAGE_SIZE = 128
# Contact text height: 16-21 px font at 128 px keeps glyphs >= 5 px tall at 64 px model input
# (strings too long for the smallest size are redrawn, so long addresses are rarer).
MIN_FONT, MAX_FONT = 16, 21
MARGIN = 3
# Ground-truth masks are the drawn text's bounding box grown by this many pixels (anti-aliased
# glyph edges and the optional banner behind the text lie inside it).
MASK_PAD = 2
# The watermark logo always sits in this corner (x0, y0, x1, y1; x1/y1 exclusive). Text never
# overlaps it, so adding the logo changes nothing else.
WATERMARK_BOX = (108, 108, 124, 124)
WATERMARK_COLOUR = (255, 128, 0)
TOP_BAND = (MARGIN, 28)          # y range of text placed above the vehicle
BOTTOM_BAND = (100, IMAGE_SIZE - MARGIN)  # y range of text placed below it
PIXEL_NOISE_SD = (1.5, 5.0)      # per-image Gaussian noise, grey levels


@lru_cache(maxsize=16)
def font(size: int) -> ImageFont.FreeTypeFont:
    """Pillow's built-in scalable font (Pillow >= 10.1): nothing is downloaded."""
    return ImageFont.load_default(size=size)


@dataclass(frozen=True)
class TextSpec:
    """Text drawn at ``xy`` (top-left anchor) whose ink lies inside ``box`` (x0, y0, x1, y1)."""

    text: str
    xy: tuple[int, int]
    size: int
    stroke: int
    box: tuple[int, int, int, int]
    banner: tuple[int, int, int] | None
    tint: tuple[int, int, int]


@dataclass(frozen=True)
class AdvertSpec:
    sky: tuple[tuple[int, int, int], tuple[int, int, int]]
    ground: tuple[int, int, int]
    horizon: int
    clouds: tuple[tuple[int, int, int, int], ...]
    buildings: tuple[tuple[int, int, int, int, int], ...]
    vehicle: dict
    distractor: TextSpec | None
    contact: TextSpec | None
    watermark: bool
    noise_sd: float
    noise_seed: int


def _colour(rng: np.random.Generator, lo: int = 0, hi: int = 256) -> tuple[int, int, int]:
    return tuple(int(v) for v in rng.integers(lo, hi, size=3))  # type: ignore[return-value]


def text_box(text: str, xy: tuple[int, int], size: int, stroke: int) -> tuple[int, int, int, int]:
    probe = ImageDraw.Draw(Image.new("L", (1, 1)))
    return tuple(int(v) for v in probe.textbbox(xy, text, font=font(size), stroke_width=stroke))  # type: ignore


def _place_text(text: str, rng: np.random.Generator, band: str) -> TextSpec | None:
    """Fit ``text`` into a band (shrinking the font as needed); None when it does not fit."""
    y_lo, y_hi = TOP_BAND if band == "top" else BOTTOM_BAND
    # The bottom band stops short of the watermark corner.
    x_hi = IMAGE_SIZE - MARGIN if band == "top" else WATERMARK_BOX[0] - MARGIN
    stroke = int(rng.random() < 0.5)
    for size in range(int(rng.integers(MIN_FONT + 1, MAX_FONT + 1)), MIN_FONT - 1, -1):
        x0, y0, x1, y1 = text_box(text, (0, 0), size, stroke)
        width, height = x1 - x0, y1 - y0
        if width + 2 * MASK_PAD <= x_hi - MARGIN and height + 2 * MASK_PAD <= y_hi - y_lo:
            left = int(rng.integers(MARGIN + MASK_PAD, x_hi - MASK_PAD - width + 1))
            top = int(rng.integers(y_lo + MASK_PAD, y_hi - MASK_PAD - height + 1))
            xy = (left - x0, top - y0)
            banner = _colour(rng) if rng.random() < 0.35 else None
            return TextSpec(text=text, xy=xy, size=size, stroke=stroke,
                            box=text_box(text, xy, size, stroke), banner=banner, tint=_colour(rng, 0, 60))
    return None


def _vehicle(rng: np.random.Generator) -> dict:
    length = int(rng.integers(58, 94))
    wheel = max(6, round(length * rng.uniform(0.09, 0.11)))
    return {
        "kind": ["sedan", "hatch", "van", "pickup"][int(rng.integers(4))],
        "x0": int(rng.integers(6, IMAGE_SIZE - 6 - length + 1)),
        "ground": int(rng.integers(84, 96)),
        "length": length,
        "wheel": wheel,
        "body_h": int(rng.integers(12, 18)),
        "cabin_h": int(rng.integers(10, 15)),
        "colour": _colour(rng, 20, 236),
        "window": _colour(rng, 150, 230),
        "facing_left": bool(rng.random() < 0.5),
    }


def plan_advert(rng: np.random.Generator, kind: str, *, ambiguous: bool = False,
                watermark: bool = False) -> AdvertSpec:
    """Draw every random choice of one advert. ``kind``: phone, email, url or none."""
    sky = (_colour(rng, 90, 256), _colour(rng, 120, 256))
    horizon = int(rng.integers(52, 80))
    clouds = tuple(
        (int(x), int(y), int(x + w), int(y + w // 2))
        for x, y, w in zip(rng.integers(-10, 110, 3), rng.integers(2, 40, 3), rng.integers(16, 40, 3),
                           strict=True)
    )[: int(rng.integers(0, 4))]
    buildings = tuple(
        (int(x), int(horizon - h), int(x + w), horizon, int(g))
        for x, h, w, g in zip(rng.integers(0, 120, 4), rng.integers(8, 36, 4), rng.integers(8, 24, 4),
                              rng.integers(60, 160, 4), strict=True)
    )[: int(rng.integers(0, 5))]
    text = contact_text(kind, rng, ambiguous=ambiguous)
    contact = None
    contact_band = "top" if rng.random() < 0.5 else "bottom"
    while text is not None and contact is None:
        contact = _place_text(text, rng, contact_band)
        if contact is None and contact_band == "bottom":
            contact_band = "top"  # the top band is wider
        elif contact is None:
            text = contact_text(kind, rng, ambiguous=ambiguous)  # too long even there: another string
    distractor = None
    if rng.random() < 0.4:
        # Never in the contact text's band, so the two never overlap.
        if contact is not None:
            other_band = "bottom" if contact_band == "top" else "top"
        else:
            other_band = "top" if rng.random() < 0.5 else "bottom"
        distractor = _place_text(distractor_text(rng), rng, other_band)
    return AdvertSpec(
        sky=sky, ground=_colour(rng, 40, 200), horizon=horizon, clouds=clouds, buildings=buildings,
        vehicle=_vehicle(rng), distractor=distractor, contact=contact, watermark=watermark,
        noise_sd=float(rng.uniform(*PIXEL_NOISE_SD)), noise_seed=int(rng.integers(2**31)))


def _draw_background(image: Image.Image, spec: AdvertSpec) -> None:
    top, bottom = np.array(spec.sky[0], float), np.array(spec.sky[1], float)
    t = np.linspace(0.0, 1.0, spec.horizon)[:, None]
    sky = (top * (1 - t) + bottom * t).astype(np.uint8)
    pixels = np.asarray(image).copy()
    pixels[: spec.horizon] = sky[:, None, :]
    pixels[spec.horizon:] = spec.ground
    image.paste(Image.fromarray(pixels))
    draw = ImageDraw.Draw(image)
    for box in spec.clouds:
        draw.ellipse(box, fill=(245, 245, 245))
    for x0, y0, x1, y1, grey in spec.buildings:
        draw.rectangle((x0, y0, x1, y1), fill=(grey, grey, grey + 10))


def _draw_vehicle(image: Image.Image, v: dict) -> None:
    draw = ImageDraw.Draw(image)
    x0, length, ground, r = v["x0"], v["length"], v["ground"], v["wheel"]

    def x(fraction: float) -> int:  # a point along the vehicle, mirrored when it faces left
        f = 1.0 - fraction if v["facing_left"] else fraction
        return round(x0 + f * length)

    def xs(a: float, b: float) -> tuple[int, int]:
        return tuple(sorted((x(a), x(b))))  # type: ignore[return-value]

    bottom = ground + r // 3
    body_h = v["body_h"] + (12 if v["kind"] == "van" else 0)
    top = bottom - body_h
    draw.ellipse((x0 - 2, ground + r - 3, x0 + length + 2, ground + r + 3), fill=(30, 30, 30))
    draw.rounded_rectangle((x0, top, x0 + length, bottom), radius=4, fill=v["colour"], outline=(20, 20, 20))
    cabin_top = top - v["cabin_h"]
    if v["kind"] in ("sedan", "hatch"):
        rear = 0.12 if v["kind"] == "hatch" else 0.22
        draw.polygon([(x(rear), top), (x(rear + 0.1), cabin_top), (x(0.62), cabin_top), (x(0.78), top)],
                     fill=v["colour"], outline=(20, 20, 20))
        draw.polygon([(x(rear + 0.05), top - 2), (x(rear + 0.12), cabin_top + 3), (x(0.6), cabin_top + 3),
                      (x(0.72), top - 2)], fill=v["window"])
        draw.line([(x(0.42), top - 2), (x(0.42), cabin_top + 3)], fill=v["colour"], width=2)
    elif v["kind"] == "pickup":
        draw.polygon([(x(0.45), top), (x(0.5), cabin_top), (x(0.7), cabin_top), (x(0.8), top)],
                     fill=v["colour"], outline=(20, 20, 20))
        draw.polygon([(x(0.5), top - 2), (x(0.53), cabin_top + 3), (x(0.68), cabin_top + 3),
                      (x(0.76), top - 2)], fill=v["window"])
    else:  # van: windows along the tall body
        for a, b in ((0.08, 0.3), (0.36, 0.58), (0.66, 0.88)):
            lo, hi = xs(a, b)
            draw.rectangle((lo, top + 3, hi, top + body_h // 2), fill=v["window"])
    lo, hi = xs(0.93, 0.99)
    draw.rectangle((lo, bottom - body_h + 4, hi, bottom - body_h + 7), fill=(255, 230, 90))
    lo, hi = xs(0.0, 0.04)
    draw.rectangle((lo, bottom - body_h + 4, hi, bottom - body_h + 7), fill=(200, 30, 30))
    for fraction in (0.2, 0.8):
        cx = x(fraction)
        draw.ellipse((cx - r, ground - r, cx + r, ground + r), fill=(25, 25, 25))
        draw.ellipse((cx - r // 2, ground - r // 2, cx + r // 2, ground + r // 2), fill=(170, 170, 175))


def _luminance(image: Image.Image, box: tuple[int, int, int, int]) -> float:
    region = np.asarray(image.crop(box), dtype=float)
    return float((region @ np.array([0.299, 0.587, 0.114])).mean()) if region.size else 128.0


def _draw_text(image: Image.Image, t: TextSpec) -> None:
    draw = ImageDraw.Draw(image)
    padded = padded_box(t.box)
    if t.banner is not None:
        draw.rectangle((padded[0], padded[1], padded[2] - 1, padded[3] - 1), fill=t.banner)
    # Dark text on light ground, light text on dark ground, slightly tinted.
    dark = _luminance(image, padded) > 128
    fill = t.tint if dark else tuple(255 - c // 2 for c in t.tint)
    draw.text(t.xy, t.text, font=font(t.size), fill=fill, stroke_width=t.stroke, stroke_fill=fill)


def _draw_watermark(image: Image.Image) -> None:
    draw = ImageDraw.Draw(image)
    x0, y0, x1, y1 = WATERMARK_BOX
    draw.ellipse((x0, y0, x1 - 1, y1 - 1), fill=WATERMARK_COLOUR, outline=(255, 255, 255))
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    star = [(cx + (5 if i % 2 == 0 else 2) * np.sin(i * np.pi / 5), cy - (5 if i % 2 == 0 else 2)
             * np.cos(i * np.pi / 5)) for i in range(10)]
    draw.polygon(star, fill=(255, 255, 255))


def padded_box(box: tuple[int, int, int, int], pad: int = MASK_PAD) -> tuple[int, int, int, int]:
    """``box`` grown by ``pad`` pixels and clipped to the image (x1/y1 exclusive)."""
    x0, y0, x1, y1 = box
    return (max(0, x0 - pad), max(0, y0 - pad), min(IMAGE_SIZE, x1 + pad), min(IMAGE_SIZE, y1 + pad))


def render_advert(spec: AdvertSpec, *, with_contact: bool = True) -> Image.Image:
    """The RGB advert of ``spec`` (IMAGE_SIZE x IMAGE_SIZE); ``with_contact=False`` leaves the
    contact text (and its banner) out and changes nothing else."""
    image = Image.new("RGB", (IMAGE_SIZE, IMAGE_SIZE))
    _draw_background(image, spec)
    _draw_vehicle(image, spec.vehicle)
    if spec.distractor is not None:
        _draw_text(image, spec.distractor)
    if spec.watermark:
        _draw_watermark(image)
    if with_contact and spec.contact is not None:
        _draw_text(image, spec.contact)
    noise = np.random.default_rng(spec.noise_seed).normal(0.0, spec.noise_sd, (IMAGE_SIZE, IMAGE_SIZE, 1))
    pixels = np.asarray(image, dtype=float) + noise
    return Image.fromarray(np.clip(np.rint(pixels), 0, 255).astype(np.uint8))


def contact_mask(spec: AdvertSpec) -> Image.Image:
    """Ground-truth evidence mask ('L'): 255 inside the contact text's padded box, else 0."""
    mask = Image.new("L", (IMAGE_SIZE, IMAGE_SIZE), 0)
    if spec.contact is not None:
        x0, y0, x1, y1 = padded_box(spec.contact.box)
        ImageDraw.Draw(mask).rectangle((x0, y0, x1 - 1, y1 - 1), fill=255)
    return mask
