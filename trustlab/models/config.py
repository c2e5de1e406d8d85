"""How a model is trained: the one home of the training defaults (torch-free, so the CLI reads them).

``TrainConfig`` is what `trustlab train` fits (data, architecture, image size, labels); its ``fit`` is
the optimiser and schedule (``FitConfig``) that cross-validation reuses; ``AugmentConfig`` is the
random training-time changes of each batch.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from trustlab.data.splits import DEFAULT_VAL_FRACTION
from trustlab.models.errors import DataError

# The demo's contact text (the class evidence) stays legible at 96 px and not at 64 px: 4-class demo
# test accuracy 0.94 vs 0.79 (benchmarks/bench_train.py --demo).
DEFAULT_IMG_SIZE = 96


@dataclass(frozen=True)
class AugmentConfig:
    """Random training-time changes, each drawn per image. ``enabled=False`` turns all off.

    hflip: probability of a horizontal flip.
    rotation_deg: maximum absolute rotation in degrees.
    crop_scale: smallest kept area fraction of a random resized crop (1.0 = no crop).
    brightness, contrast, saturation: maximum relative change (0.2 = factor in [0.8, 1.2]).

    Defaults change colours only: text (the demo's contact details, near the edges) is neither
    mirrored nor rotated nor cropped away, and in a short run geometric changes cost more than they
    give (600-image demo, 10 epochs: test accuracy 0.84/0.89 on two seeds with colour changes only,
    0.76/0.87 with 5 degree rotations and 0.9 crops). For natural photos pass e.g.
    ``hflip=0.5,rotation_deg=10,crop_scale=0.8``.
    """

    enabled: bool = True
    hflip: float = 0.0
    rotation_deg: float = 0.0
    crop_scale: float = 1.0
    brightness: float = 0.2
    contrast: float = 0.2
    saturation: float = 0.2

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def parse(cls, text: str | None) -> AugmentConfig:
        """From "hflip=0,rotation_deg=5,crop_scale=0.9" (unnamed fields keep their defaults);
        "none" or "off" turns augmentation off."""
        if text is None or not text.strip():
            return cls()
        if text.strip().lower() in ("none", "off"):
            return cls(enabled=False)
        known = {f.name: f.type for f in fields(cls)}
        values: dict = {}
        for part in text.split(","):
            key, sep, raw = part.partition("=")
            key = key.strip()
            if not sep or key not in known or key == "enabled":
                raise DataError(f"--augment entry {part.strip()!r} is not KEY=NUMBER with KEY one of "
                                f"{', '.join(k for k in known if k != 'enabled')}")
            try:
                values[key] = float(raw)
            except ValueError:
                raise DataError(f"--augment {key}={raw!r}: the value must be a number") from None
        return cls(**values)


@dataclass(frozen=True)
class FitConfig:
    """Optimiser and schedule. ``patience``: epochs without a lower val loss before stopping.

    Batches of 8 at lr 2e-3 (AdamW, cosine schedule): on a CPU a small batch costs little per image
    and gives a short run (10 epochs of a few hundred images) four times the optimiser steps of
    batches of 32 (600-image demo: test accuracy 0.87 at batch 8, 0.72 at 16).
    """

    epochs: int = 10
    batch_size: int = 8
    lr: float = 2e-3
    weight_decay: float = 1e-4
    patience: int = 3
    seed: int = 0
    augment: AugmentConfig = field(default_factory=AugmentConfig)


@dataclass(frozen=True)
class TrainConfig:
    """What `trustlab train` fits: which data, which model, and how (``fit``).

    The one home of the training defaults: these fields and FitConfig's. The CLI's flags and their
    defaults are read from here, and :meth:`of` builds one from flat options."""

    dataset: str
    arch: str
    name: str
    fit: FitConfig = field(default_factory=FitConfig)
    weights: str | Path | None = None
    freeze: bool = False
    img_size: int = DEFAULT_IMG_SIZE
    labels: str = "original"  # "original" (Item.original_label) or "current" (curated)
    normalisation: str = "imagenet"
    val_fraction: float = DEFAULT_VAL_FRACTION
    device: str | None = None

    @classmethod
    def of(cls, **options: Any) -> TrainConfig:
        """A config from flat options: FitConfig's fields (epochs, lr, seed, augment, ...) go to ``fit``."""
        fit_names = {f.name for f in fields(FitConfig)}
        fit_options = {key: options.pop(key) for key in list(options) if key in fit_names}
        if fit_options.get("augment") is None:
            fit_options.pop("augment", None)
        return cls(fit=FitConfig(**fit_options), **options)
