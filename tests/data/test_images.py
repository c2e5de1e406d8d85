"""Decoding and mode normalisation of single images (no database)."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from trustlab.data.images import (
    MAX_PIXELS,
    ImageRejected,
    content_path,
    decode,
    png_bytes,
    read_raw,
    to_mask,
    to_rgb,
)


def _encode(image: Image.Image, fmt: str = "PNG", **kwargs) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **kwargs)
    return buffer.getvalue()


def test_palette_with_transparency_goes_on_white():
    image = Image.new("P", (4, 4), 0)
    image.putpalette([10, 20, 30, 200, 0, 0] + [0] * 762)
    image.putpixel((0, 0), 1)
    rgb = to_rgb(decode(_encode(image, transparency=0)))
    assert rgb.mode == "RGB"
    assert rgb.getpixel((0, 0)) == (200, 0, 0) and rgb.getpixel((3, 3)) == (255, 255, 255)


@pytest.mark.parametrize(("mode", "values", "expected"), [
    ("I", np.array([[0, 65535]], dtype=np.int32), (0, 255)),
    ("F", np.array([[0.0, 1.0]], dtype=np.float32), (0, 255)),
    ("F", np.array([[0.0, 128.0]], dtype=np.float32), (0, 128)),
])
def test_wide_single_channel_modes_are_scaled(mode, values, expected):
    image = Image.fromarray(values)
    assert image.mode == mode
    rgb = to_rgb(image)
    assert (rgb.getpixel((0, 0))[0], rgb.getpixel((1, 0))[0]) == expected


def test_bilevel_grayscale_and_mask_modes():
    assert to_rgb(decode(_encode(Image.new("1", (3, 3), 1)))).getpixel((1, 1)) == (255, 255, 255)
    assert to_rgb(Image.new("L", (2, 2), 77)).getpixel((0, 0)) == (77, 77, 77)
    assert to_mask(Image.new("RGB", (2, 2), (255, 255, 255))).getpixel((0, 0)) == 255
    assert to_mask(Image.new("1", (2, 2), 1)).getpixel((0, 0)) == 255
    transparent = to_mask(Image.new("RGBA", (2, 2), (255, 255, 255, 0)))
    assert transparent.mode == "L" and transparent.getpixel((0, 0)) == 0


def test_rejections_name_the_reason(tmp_path):
    with pytest.raises(ImageRejected) as empty:
        read_raw(tmp_path / "missing.png")
    assert empty.value.reason == "file not found"
    (tmp_path / "zero.jpg").write_bytes(b"")
    with pytest.raises(ImageRejected, match="empty file"):
        read_raw(tmp_path / "zero.jpg")
    with pytest.raises(ImageRejected, match="not an image"):
        decode(b"GIF89a but not really")
    whole = _encode(Image.effect_noise((64, 64), 40), "JPEG")
    with pytest.raises(ImageRejected) as cut:
        decode(whole[: len(whole) // 2])
    assert cut.value.reason == "truncated"
    side = int(MAX_PIXELS ** 0.5) + 10
    with pytest.raises(ImageRejected, match="too large"):
        decode(_encode(Image.new("1", (side, side))))


def test_png_bytes_are_reproducible_and_paths_content_addressed():
    image = Image.new("RGB", (5, 5), (1, 2, 3))
    assert png_bytes(image) == png_bytes(image.copy())
    sha = "ab" + "0" * 62
    assert content_path(sha) == f"ab/{sha}.png"
    assert content_path(sha, prefix="masks/") == f"masks/ab/{sha}.png"
