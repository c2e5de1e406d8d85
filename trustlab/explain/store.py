"""Content-addressed explanation artifacts under ``settings.artifacts_dir``.

An artifact's path is ``<sha[:2]>/<sha><suffix>`` where sha is the sha256 of its content, so equal
content is stored once and a path never changes meaning. Files are written to a temporary name and
renamed, so a concurrent worker never reads half a file. Paths returned are relative to
artifacts_dir (what Explanation.raw_path / overlay_path hold).
"""

from __future__ import annotations

import hashlib
import io
import os
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

from trustlab.config import Settings


def artifact_path(settings: Settings, relative: str) -> Path:
    """Absolute path of an artifact given its stored relative path."""
    return settings.artifacts_dir / relative


def _store(settings: Settings, digest: str, suffix: str, data: bytes) -> str:
    relative = f"{digest[:2]}/{digest}{suffix}"
    path = artifact_path(settings, relative)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    return relative


def save_array(settings: Settings, array: np.ndarray, *, dtype: str = "float16") -> str:
    """Store one array as .npy (saliency maps as float16: half the size, ample for display)."""
    buffer = io.BytesIO()
    np.save(buffer, np.ascontiguousarray(array, dtype=dtype), allow_pickle=False)
    data = buffer.getvalue()
    return _store(settings, hashlib.sha256(data).hexdigest(), ".npy", data)


def save_arrays(settings: Settings, **arrays: np.ndarray) -> str:
    """Store several arrays in one compressed .npz (LIME: segments and sampled masks).

    Addressed by the arrays' names, dtypes, shapes and bytes (zip headers carry timestamps)."""
    digest = hashlib.sha256()
    for name in sorted(arrays):
        arr = np.ascontiguousarray(arrays[name])
        digest.update(f"{name}|{arr.dtype.str}|{arr.shape}|".encode())
        digest.update(arr.tobytes())
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    return _store(settings, digest.hexdigest(), ".npz", buffer.getvalue())


def save_png(settings: Settings, image: Image.Image) -> str:
    """Store a rendered overlay as PNG."""
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=False)
    data = buffer.getvalue()
    return _store(settings, hashlib.sha256(data).hexdigest(), ".png", data)


def load_array(settings: Settings, relative: str) -> np.ndarray:
    return np.load(artifact_path(settings, relative), allow_pickle=False)


def load_arrays(settings: Settings, relative: str) -> dict[str, np.ndarray]:
    with np.load(artifact_path(settings, relative), allow_pickle=False) as data:
        return {name: data[name] for name in data.files}


def cache_path(settings: Settings, name: str) -> Path:
    """A named (not content-addressed) cache file under artifacts_dir/cache, e.g. embeddings."""
    path = settings.artifacts_dir / "cache" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def save_cached_array(path: Path, array: np.ndarray) -> None:
    """Write an .npy atomically (several workers may build the same cache at once)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".npy")
    with os.fdopen(fd, "wb") as handle:
        np.save(handle, array, allow_pickle=False)
    os.replace(tmp, path)
