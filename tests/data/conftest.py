"""Files for ingest tests: good images in every awkward mode, and broken ones."""

from __future__ import annotations

import io
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

# Expected skip reasons of the broken files written by `mixed_folder`.
BAD_FILES = {
    "alpha/truncated.jpg": "truncated",
    "alpha/empty.png": "empty file",
    "beta/notes.png": "not an image",
    "beta/huge.png": "too large",
    "beta/big.png": "too large",
}


def jpeg_bytes(image: Image.Image, **kwargs) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=95, **kwargs)
    return buffer.getvalue()


def png_file_bytes(image: Image.Image, **kwargs) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", **kwargs)
    return buffer.getvalue()


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def huge_bilevel_png(width: int, height: int) -> bytes:
    """A valid 1-bit PNG of width x height, all black, written row by row: a few KB on disk (a
    decompression bomb) without ever holding the pixels in memory."""
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    row = b"\x00" * (1 + (width + 7) // 8)  # filter byte + packed bits
    compressor = zlib.compressobj(9)
    idat = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")


def two_colour(width: int = 40, height: int = 20) -> Image.Image:
    """Left half red, right half blue: orientation is visible in the pixels."""
    image = Image.new("RGB", (width, height), (255, 0, 0))
    image.paste((0, 0, 255), (width // 2, 0, width, height))
    return image


def write_mixed_folder(root: Path) -> dict[str, str]:
    """An ImageFolder tree (classes alpha, beta) mixing good files in many modes with broken ones.

    Returns {relative path: kind} of the good files.
    """
    rng = np.random.default_rng(0)
    good: dict[str, bytes] = {}
    noise = Image.fromarray(rng.integers(0, 255, (24, 24, 3), dtype=np.uint8))
    good["alpha/rgb.jpg"] = jpeg_bytes(noise)
    rgba = Image.new("RGBA", (16, 16), (0, 0, 0, 0))
    rgba.paste((0, 200, 0, 255), (0, 0, 8, 16))
    good["alpha/rgba.png"] = png_file_bytes(rgba)
    good["alpha/palette.png"] = png_file_bytes(noise.convert("P", palette=Image.Palette.ADAPTIVE, colors=16))
    good["alpha/gray.png"] = png_file_bytes(noise.convert("L"))
    good["alpha/cmyk.jpg"] = jpeg_bytes(Image.new("CMYK", (16, 16), (0, 255, 255, 0)))
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90 degrees clockwise to display
    good["beta/rotated.jpg"] = jpeg_bytes(two_colour(), exif=exif)
    sixteen = np.full((8, 8), 65535, dtype=np.uint16)
    sixteen[:, :4] = 257 * 100
    good["beta/sixteen.png"] = png_file_bytes(Image.fromarray(sixteen))
    good["beta/la.png"] = png_file_bytes(Image.new("LA", (8, 8), (50, 255)))
    good["beta/bilevel.png"] = png_file_bytes(noise.convert("1"))
    good["beta/nested/deep.png"] = png_file_bytes(Image.new("RGB", (10, 12), (9, 8, 7)))
    for rel, data in good.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    whole = jpeg_bytes(Image.fromarray(rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)))
    (root / "alpha/truncated.jpg").write_bytes(whole[: len(whole) * 2 // 3])
    (root / "alpha/empty.png").write_bytes(b"")
    (root / "beta/notes.png").write_text("these are my notes, not a picture\n")
    (root / "beta/huge.png").write_bytes(huge_bilevel_png(20000, 20000))
    (root / "beta/big.png").write_bytes(huge_bilevel_png(7000, 7000))  # 49 MP: above our 40 MP limit
    (root / ".DS_Store").write_bytes(b"\x00\x01")
    return {rel: rel.split("/")[-1].split(".")[0] for rel in good}


@dataclass
class MixedFolder:
    root: Path
    good: dict[str, str]
    bad: dict[str, str]


@pytest.fixture
def mixed_folder(tmp_path) -> MixedFolder:
    """root: the tree; good: {relative path: kind}; bad: {relative path: expected skip reason}."""
    root = tmp_path / "mixed"
    root.mkdir()
    return MixedFolder(root=root, good=write_mixed_folder(root), bad=dict(BAD_FILES))
