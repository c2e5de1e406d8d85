"""Seeded data builders shared by tests: small image datasets written straight into the database."""

from __future__ import annotations

import hashlib
import io

import numpy as np
from PIL import Image, ImageDraw

from trustlab.config import Settings
from trustlab.db.engine import unit_of_work
from trustlab.db.queries.datasets import get_or_create_dataset
from trustlab.db.queries.items import add_items
from trustlab.db.queries.labels import ensure_labels
from trustlab.db.schema import Item


def shape_image(label_index: int, rng: np.random.Generator, size: int = 32) -> Image.Image:
    """A noisy background with a class-dependent shape: class 0 a square, 1 a disc, 2 a cross, ..."""
    background = rng.integers(60, 120, size=(size, size, 3), dtype=np.uint8)
    image = Image.fromarray(background)
    draw = ImageDraw.Draw(image)
    lo, hi = int(size * 0.2), int(size * 0.3)
    x0, y0 = rng.integers(lo, hi, size=2)
    x1, y1 = x0 + size // 2, y0 + size // 2
    colour = (230, 230, 40) if label_index % 2 == 0 else (40, 200, 230)
    kind = label_index % 3
    if kind == 0:
        draw.rectangle([x0, y0, x1, y1], fill=colour)
    elif kind == 1:
        draw.ellipse([x0, y0, x1, y1], fill=colour)
    else:
        draw.line([x0, y0, x1, y1], fill=colour, width=4)
        draw.line([x0, y1, x1, y0], fill=colour, width=4)
    return image


def make_image_dataset(
    settings: Settings,
    *,
    name: str = "shapes",
    classes: tuple[str, ...] = ("square", "disc"),
    per_class: dict[str, int] | None = None,
    size: int = 32,
    seed: int = 0,
) -> int:
    """Write a small shapes dataset (PNG files under settings.images_dir, rows in the database).

    per_class: items per split and class, default {"train": 12, "val": 4, "test": 4}.
    Returns the dataset id.
    """
    per_class = per_class or {"train": 12, "val": 4, "test": 4}
    rng = np.random.default_rng(seed)
    settings.ensure_dirs()
    with unit_of_work(settings) as s:
        dataset = get_or_create_dataset(s, name=name)
        ensure_labels(s, dataset_id=dataset.id, names=classes)
        items = []
        for split, count in per_class.items():
            for label_index, label in enumerate(classes):
                for _ in range(count):
                    buffer = io.BytesIO()
                    shape_image(label_index, rng, size).save(buffer, format="PNG")
                    data = buffer.getvalue()
                    sha = hashlib.sha256(data).hexdigest()
                    rel = f"{sha[:2]}/{sha}.png"
                    path = settings.images_dir / rel
                    path.parent.mkdir(parents=True, exist_ok=True)
                    path.write_bytes(data)
                    items.append(Item(dataset_id=dataset.id, path=rel, source_path=str(path), sha256=sha,
                                      width=size, height=size, split=split, original_label=label,
                                      current_label=label))
        add_items(s, items=items)
        return dataset.id
