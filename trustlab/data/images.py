"""Decode any image file Pillow can read, safely, and normalise it to an RGB (or mask 'L') image.

Every file is fully decoded (``load()``), so truncated or corrupt files are found at ingest time and
never later in a training loop. Failures raise :class:`ImageRejected` with a short ``reason`` code
(one of ``REASONS``) that the ingest report groups by.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

log = logging.getLogger(__name__)

# Decompression-bomb limit: images above this many pixels are rejected before decoding. 40 MP is
# larger than any phone camera photo we expect and far above what the classifiers (64-224 px) need;
# a decoded 40 MP RGB image is ~120 MB, which is the most memory one file may take.
MAX_PIXELS = 40_000_000
# Files above this size are rejected without reading them into memory.
MAX_FILE_BYTES = 256 * 1024 * 1024
# Transparent pixels are composited onto this colour (white, like a page or a browser).
BACKGROUND_RGB = (255, 255, 255)
# 16-bit values 0..65535 map to 0..255 by dividing by 257 (65535 / 255), so white stays white.
SIXTEEN_BIT_SCALE = 257.0
# zlib level of stored PNGs: on 128 px photos level 1 encodes ~3x faster than Pillow's default 6
# for the same size (measured 2.4 vs 7.1 ms, 20 KB both), and encoding dominates ingest time.
PNG_COMPRESS_LEVEL = 1

REASON_MISSING = "file not found"
REASON_UNREADABLE = "unreadable"
REASON_EMPTY = "empty file"
REASON_NOT_IMAGE = "not an image"
REASON_TOO_LARGE = "too large"
REASON_TRUNCATED = "truncated"
REASON_CORRUPT = "corrupt"
REASON_MODE = "unsupported mode"
REASONS = (REASON_MISSING, REASON_UNREADABLE, REASON_EMPTY, REASON_NOT_IMAGE, REASON_TOO_LARGE,
           REASON_TRUNCATED, REASON_CORRUPT, REASON_MODE)


class ImageRejected(ValueError):
    """A file that cannot become a trustlab image; ``reason`` is a code from ``REASONS``."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class RawFile:
    """The original bytes of a file and their sha256 (hex), the dedupe key of an item."""

    data: bytes
    sha256: str


def read_raw(path: str | os.PathLike) -> RawFile:
    """Read a file's bytes (refusing empty and oversized files) and hash them."""
    path = Path(path)
    try:
        size = path.stat().st_size
    except FileNotFoundError as exc:
        raise ImageRejected(REASON_MISSING, str(path)) from exc
    except OSError as exc:
        raise ImageRejected(REASON_UNREADABLE, str(exc)) from exc
    if size == 0:
        raise ImageRejected(REASON_EMPTY, "0 bytes")
    if size > MAX_FILE_BYTES:
        raise ImageRejected(REASON_TOO_LARGE, f"{size} bytes > {MAX_FILE_BYTES} byte limit")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ImageRejected(REASON_UNREADABLE, str(exc)) from exc
    return RawFile(data=data, sha256=hashlib.sha256(data).hexdigest())


def _failed_decode(exc: BaseException) -> ImageRejected:
    message = str(exc) or type(exc).__name__
    # Pillow says "image file is truncated" / "Truncated File Read" for data that stops early.
    if "truncated" in message.lower() or isinstance(exc, EOFError):
        return ImageRejected(REASON_TRUNCATED, message)
    return ImageRejected(REASON_CORRUPT, message)


def decode(data: bytes) -> Image.Image:
    """Open and fully decode image bytes, with EXIF orientation applied (any mode).

    Raises ImageRejected for empty data, non-images, images above MAX_PIXELS (checked from the
    header, before any pixel is decoded) and truncated or corrupt data.
    """
    if not data:
        raise ImageRejected(REASON_EMPTY, "0 bytes")
    with warnings.catch_warnings():
        # We enforce our own, lower limit; Pillow's warning/error would only duplicate it.
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            image = Image.open(io.BytesIO(data))
        except Image.DecompressionBombError as exc:
            raise ImageRejected(REASON_TOO_LARGE, str(exc)) from exc
        except UnidentifiedImageError as exc:
            raise ImageRejected(REASON_NOT_IMAGE, "Pillow cannot identify the format") from exc
        except (OSError, SyntaxError, ValueError, EOFError) as exc:
            raise _failed_decode(exc) from exc
        width, height = image.size
        if width <= 0 or height <= 0:
            raise ImageRejected(REASON_CORRUPT, f"size {width}x{height}")
        if width * height > MAX_PIXELS:
            raise ImageRejected(REASON_TOO_LARGE, f"{width}x{height} px > {MAX_PIXELS} pixel limit")
        try:
            image.load()
        except (OSError, SyntaxError, ValueError, EOFError, MemoryError) as exc:
            raise _failed_decode(exc) from exc
    try:
        oriented = ImageOps.exif_transpose(image)
    except Exception:  # noqa: BLE001 - malformed EXIF must not lose a good image
        log.debug("malformed EXIF orientation ignored", exc_info=True)
        oriented = None
    return oriented if oriented is not None else image


def _scale_to_8bit(image: Image.Image) -> Image.Image:
    """Single-channel integer/float images ('I;16*', 'I', 'F') to 'L', scaled, not clipped."""
    array = np.asarray(image)
    if image.mode == "F":
        array = array.astype(np.float64)
        finite = array[np.isfinite(array)]
        top = float(finite.max()) if finite.size else 0.0
        # Float images are either 0..1 (normalised) or 0..255 (8-bit stored as float).
        scale = 255.0 if top <= 1.0 else 1.0
        out = np.nan_to_num(array) * scale
    else:
        # 'I;16' and 'I' (how Pillow opens 16-bit PNG/TIFF) hold 0..65535.
        out = np.clip(array.astype(np.float64), 0, 65535) / SIXTEEN_BIT_SCALE
    return Image.fromarray(np.clip(np.rint(out), 0, 255).astype(np.uint8))


def _has_alpha(image: Image.Image) -> bool:
    return image.mode in ("RGBA", "LA", "PA", "La", "RGBa") or (
        image.mode == "P" and "transparency" in image.info
    )


def to_rgb(image: Image.Image) -> Image.Image:
    """Normalise any decoded mode to 8-bit RGB.

    Palette, grayscale and 1-bit images are expanded; transparency is composited onto white;
    CMYK/YCbCr/LAB/HSV are converted; 16-bit and 32-bit integer images are scaled (not clipped).
    """
    if image.mode == "RGB":
        return image
    if image.mode.startswith("I") or image.mode == "F":
        return _scale_to_8bit(image).convert("RGB")
    if _has_alpha(image):
        rgba = image.convert("RGBA")
        canvas = Image.new("RGBA", rgba.size, BACKGROUND_RGB + (255,))
        canvas.alpha_composite(rgba)
        return canvas.convert("RGB")
    try:
        return image.convert("RGB")
    except (ValueError, OSError) as exc:
        raise ImageRejected(REASON_MODE, f"mode {image.mode}") from exc


def to_mask(image: Image.Image) -> Image.Image:
    """Normalise a mask image to single-channel 'L' (0 = background, 255 = evidence).

    Colour masks become their luminance; masks with transparency are composited onto black
    first, so a white-on-transparent mask keeps its white evidence.
    """
    if image.mode == "L":
        return image
    if image.mode == "1":
        return image.convert("L")
    if image.mode.startswith("I") or image.mode == "F":
        return _scale_to_8bit(image)
    if _has_alpha(image):
        rgba = image.convert("RGBA")
        canvas = Image.new("RGBA", rgba.size, (0, 0, 0, 255))
        canvas.alpha_composite(rgba)
        return canvas.convert("L")
    try:
        return image.convert("RGB").convert("L")
    except (ValueError, OSError) as exc:
        raise ImageRejected(REASON_MODE, f"mode {image.mode}") from exc


def png_bytes(image: Image.Image) -> bytes:
    """Encode as PNG with no metadata (no timestamps, no EXIF), so equal pixels give equal bytes."""
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=PNG_COMPRESS_LEVEL)
    return buffer.getvalue()


def store_png(image: Image.Image, root: Path, relative: str) -> None:
    """Write ``image`` as PNG at ``root/relative`` atomically; content-addressed, so an existing
    file is left as it is."""
    target = root / relative
    if target.exists():
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    tmp.write_bytes(png_bytes(image))
    os.replace(tmp, target)


def content_path(sha256: str, *, prefix: str = "") -> str:
    """Storage path relative to images_dir: ``[prefix/]<sha[:2]>/<sha>.png``."""
    return f"{prefix}{sha256[:2]}/{sha256}.png"
