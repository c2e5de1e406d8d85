"""ImageFolder trees on disk, as users download them: ``train/<class>/*.png`` and ``test/<class>/*.png``
with no ``val/`` folder. Import with ``from tree_builders import ...``."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tests.helpers.builders import shape_image


def write_train_test_tree(
    root: Path, *, classes: tuple[str, ...] = ("square", "disc"), per_class: dict[str, int] | None = None,
    size: int = 32, seed: int = 0,
) -> Path:
    """Write seeded shape PNGs under root/<split>/<class>/; per_class default {"train": 20, "test": 4}."""
    per_class = per_class or {"train": 20, "test": 4}
    rng = np.random.default_rng(seed)
    for split, count in per_class.items():
        for label_index, label in enumerate(classes):
            folder = root / split / label
            folder.mkdir(parents=True, exist_ok=True)
            for n in range(count):
                shape_image(label_index, rng, size).save(folder / f"{label}_{n:03d}.png")
    return root
