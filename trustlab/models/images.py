"""Image decoding and normalisation shared by training, inference and explanation.

Every path from a PIL image (or an Item's PNG) to a model input goes through these two functions,
so training and inference see the same pixels.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
UINT8_MAX = 255.0


def to_uint8_tensor(image: Image.Image, size: int) -> torch.Tensor:
    """RGB image resized (bilinear, aspect not kept) to a uint8 tensor [3, size, size]."""
    image = image.convert("RGB")
    if image.size != (size, size):
        image = image.resize((size, size), Image.Resampling.BILINEAR)
    return torch.from_numpy(np.asarray(image, dtype=np.uint8).copy()).permute(2, 0, 1).contiguous()


def read_uint8(paths: Sequence[Path], size: int) -> torch.Tensor:
    """Decode image files into one uint8 tensor [N, 3, size, size]."""
    out = torch.empty((len(paths), 3, size, size), dtype=torch.uint8)
    for i, path in enumerate(paths):
        with Image.open(path) as image:
            out[i] = to_uint8_tensor(image, size)
    return out


def normalise(
    batch: torch.Tensor, mean: Sequence[float], std: Sequence[float]
) -> torch.Tensor:
    """uint8 [N, 3, S, S] (0..255) or float (0..1) -> float32 (x - mean) / std, on batch's device."""
    x = batch.float() / UINT8_MAX if batch.dtype == torch.uint8 else batch.float()
    mean_t = torch.tensor(mean, dtype=torch.float32, device=x.device).view(1, 3, 1, 1)
    std_t = torch.tensor(std, dtype=torch.float32, device=x.device).view(1, 3, 1, 1)
    return (x - mean_t) / std_t


def denormalise(
    batch: torch.Tensor, mean: Sequence[float], std: Sequence[float]
) -> torch.Tensor:
    """Inverse of normalise: float [N, 3, S, S] in 0..1 (clamped)."""
    mean_t = torch.tensor(mean, dtype=batch.dtype, device=batch.device).view(1, 3, 1, 1)
    std_t = torch.tensor(std, dtype=batch.dtype, device=batch.device).view(1, 3, 1, 1)
    return (batch * std_t + mean_t).clamp(0, 1)
