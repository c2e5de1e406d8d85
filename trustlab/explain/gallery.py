"""The twins' gallery for a stored model: its training items embedded once and cached on disk.

The cache file is ``artifacts/cache/embeddings/<checkpoint sha>-<hash of item ids>.npy``, so a
retrained model or a changed training split gets a new file and a stale one is never read.
"""

from __future__ import annotations

import hashlib

import numpy as np

from trustlab.config import Settings
from trustlab.db.engine import unit_of_work
from trustlab.db.queries.items import list_items
from trustlab.db.schema import Item, ModelVersion
from trustlab.explain.base import ExplainError
from trustlab.explain.layers import penultimate_features
from trustlab.explain.store import cache_path, save_cached_array
from trustlab.explain.twins import Gallery, normalise_rows
from trustlab.models.checkpoint import LoadedModel
from trustlab.models.datasets import item_label

GALLERY_SPLIT = "train"
EMBED_BATCH = 64


def embeddings_cache_name(version: ModelVersion, item_ids: list[int]) -> str:
    ids_digest = hashlib.sha256(",".join(map(str, item_ids)).encode()).hexdigest()[:16]
    return f"embeddings/{version.checkpoint_sha256[:16]}-{ids_digest}.npy"


def train_gallery(
    settings: Settings, loaded: LoadedModel, version: ModelVersion, *, feature_layer: str | None = None
) -> tuple[Gallery, dict[int, Item]]:
    """The gallery of the model's training items (labels as the model was trained: original or
    current) and those items by id. Embeddings come from the cache when present.

    feature_layer: embed with this module's output (twins' ``feature_layer``) instead of the
    penultimate features."""
    with unit_of_work(settings) as session:
        items = list_items(session, dataset_id=version.dataset_id, split=GALLERY_SPLIT)
    if not items:
        raise ExplainError(
            f"twins need training items, but the dataset of model {version.name!r} "
            f"has none in split {GALLERY_SPLIT!r}"
        )
    index = {name: i for i, name in enumerate(loaded.class_names)}
    labels = [index.get(item_label(item, version.labels_source or "original"), -1) for item in items]
    ids = [item.id for item in items]
    name = embeddings_cache_name(version, ids)
    if feature_layer:
        name = name.replace(".npy", f"-{hashlib.sha256(feature_layer.encode()).hexdigest()[:8]}.npy")

        def features(x):
            return penultimate_features(loaded.module, x, layer=feature_layer)
    else:
        features = loaded.features
    path = cache_path(settings, name)
    if path.exists():
        embeddings = np.load(path, allow_pickle=False)
    else:
        parts = [
            features(loaded.load_items(items[s : s + EMBED_BATCH])).float().cpu().numpy()
            for s in range(0, len(items), EMBED_BATCH)
        ]
        embeddings = normalise_rows(np.concatenate(parts))
        save_cached_array(path, embeddings)
    return Gallery(embeddings, np.asarray(labels, dtype=np.int64), ids), {item.id: item for item in items}
