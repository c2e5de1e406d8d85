"""Items as tensors: a decoded uint8 cache per split and batched augmentation on tensors.

The images are small, so each split is decoded and resized once into one uint8 tensor
[N, 3, S, S]; augmentation then runs per batch on tensors (on the training device), which is far
faster on 2 CPU cores than PIL transforms in DataLoader workers.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

from trustlab.config import Settings
from trustlab.db.schema import Item
from trustlab.models.config import AugmentConfig
from trustlab.models.errors import DataError
from trustlab.models.images import normalise, read_uint8

LABEL_SOURCES = ("original", "current")


def item_label(item: Item, labels: str) -> str:
    if labels not in LABEL_SOURCES:
        raise DataError(f"--labels must be one of {', '.join(LABEL_SOURCES)}, got {labels!r}")
    return item.current_label if labels == "current" else item.original_label


def encode_labels(items: Sequence[Item], class_names: Sequence[str], labels: str) -> torch.Tensor:
    """Class indices [N] (int64) of the items' labels in ``class_names`` order."""
    index = {name: i for i, name in enumerate(class_names)}
    unknown = sorted({item_label(item, labels) for item in items} - set(index))
    if unknown:
        raise DataError(f"labels {', '.join(unknown)} are not among the model's classes "
                        f"({', '.join(class_names)}): the model and dataset classes do not match; "
                        "retrain the model on the current classes")
    return torch.tensor([index[item_label(item, labels)] for item in items], dtype=torch.int64)


class ItemImages(Dataset):
    """A torch Dataset over Items: (uint8 image [3, S, S], class index) with all images decoded once."""

    def __init__(self, settings: Settings, items: Sequence[Item], class_names: Sequence[str], *,
                 img_size: int, labels: str = "original") -> None:
        self.items = list(items)
        self.images = read_uint8([settings.images_dir / item.path for item in self.items], img_size)
        self.targets = encode_labels(self.items, class_names, labels)

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        return self.images[index], int(self.targets[index])


def _affine_params(n: int, cfg: AugmentConfig, generator: torch.Generator) -> torch.Tensor:
    """Per-image affine matrices [n, 2, 3] for rotation + random resized crop + flip (grid coords)."""
    def uniform(lo: float, hi: float) -> torch.Tensor:
        return lo + (hi - lo) * torch.rand(n, generator=generator)

    angle = uniform(-cfg.rotation_deg, cfg.rotation_deg) * math.pi / 180
    area = uniform(cfg.crop_scale, 1.0)
    # Aspect ratio in [3/4, 4/3] (log-uniform) as in torchvision's RandomResizedCrop.
    log_ratio = uniform(math.log(3 / 4), math.log(4 / 3))
    ratio = torch.exp(log_ratio)
    sx, sy = torch.sqrt(area * ratio), torch.sqrt(area / ratio)
    # A crop that would stick out of the image keeps the area with the image's own aspect ratio
    # (torchvision falls back similarly), so crop_scale=1 means no crop at all.
    outside = (sx > 1) | (sy > 1)
    sx = torch.where(outside, torch.sqrt(area), sx)
    sy = torch.where(outside, torch.sqrt(area), sy)
    tx = uniform(-1.0, 1.0) * (1 - sx)
    ty = uniform(-1.0, 1.0) * (1 - sy)
    flip = torch.where(torch.rand(n, generator=generator) < cfg.hflip, -1.0, 1.0)
    cos, sin = torch.cos(angle), torch.sin(angle)
    theta = torch.zeros(n, 2, 3)
    theta[:, 0, 0] = cos * sx * flip
    theta[:, 0, 1] = -sin * sy
    theta[:, 1, 0] = sin * sx * flip
    theta[:, 1, 1] = cos * sy
    theta[:, 0, 2] = tx
    theta[:, 1, 2] = ty
    return theta


def _colour_jitter(x: torch.Tensor, cfg: AugmentConfig, generator: torch.Generator) -> torch.Tensor:
    """Per-image brightness, contrast and saturation factors on float images in 0..1 [N, 3, S, S]."""
    n = x.shape[0]

    def factor(strength: float) -> torch.Tensor:
        f = 1 + strength * (2 * torch.rand(n, generator=generator) - 1)
        return f.to(x.device).view(n, 1, 1, 1)

    x = x * factor(cfg.brightness)
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    x = (x - mean) * factor(cfg.contrast) + mean
    grey = (0.299 * x[:, 0:1] + 0.587 * x[:, 1:2] + 0.114 * x[:, 2:3])
    x = (x - grey) * factor(cfg.saturation) + grey
    return x.clamp(0, 1)


def augment(batch: torch.Tensor, cfg: AugmentConfig, generator: torch.Generator) -> torch.Tensor:
    """Augment uint8 images [N, 3, S, S] -> float [N, 3, S, S] in 0..1 (not normalised).

    Random numbers come from ``generator`` (CPU) so training is reproducible with a seed.
    """
    x = batch.float() / 255.0
    if not cfg.enabled or x.shape[0] == 0:
        return x
    theta = _affine_params(x.shape[0], cfg, generator).to(x.device)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    x = F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False)
    return _colour_jitter(x, cfg, generator)


def batches(n: int, batch_size: int, *, shuffle: bool, generator: torch.Generator | None = None):
    """Index tensors covering range(n) in batches (shuffled with ``generator`` when asked)."""
    order = torch.randperm(n, generator=generator) if shuffle else torch.arange(n)
    for start in range(0, n, batch_size):
        yield order[start:start + batch_size]


def prepare(batch: torch.Tensor, mean, std, device: torch.device, *, cfg: AugmentConfig | None = None,
            generator: torch.Generator | None = None) -> torch.Tensor:
    """uint8 batch -> normalised float on ``device``, augmented when ``cfg`` is given."""
    batch = batch.to(device, non_blocking=True)
    if cfg is not None and generator is not None:
        return normalise(augment(batch, cfg, generator), mean, std)
    return normalise(batch, mean, std)
