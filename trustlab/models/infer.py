"""Batched inference over Items with a LoadedModel (shared by evaluate, compare and predict)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import torch

from trustlab.db.schema import Item
from trustlab.job_progress import progress as progress_bar
from trustlab.models.checkpoint import LoadedModel

DEFAULT_BATCH_SIZE = 64


def iter_probabilities(
    loaded: LoadedModel, items: Sequence[Item], *, batch_size: int = DEFAULT_BATCH_SIZE,
    progress: bool = True, desc: str = "predict",
) -> Iterator[tuple[Sequence[Item], np.ndarray]]:
    """Yield (items of the batch, probabilities [B, C] float64) batch by batch."""
    with progress_bar(total=len(items), desc=desc, enabled=progress, unit="img", leave=False) as bar:
        for start in range(0, len(items), batch_size):
            chunk = items[start:start + batch_size]
            with torch.autocast(loaded.device.type, enabled=loaded.device.type == "cuda"):
                probs = loaded.predict_proba(loaded.load_items(chunk))
            bar.update(len(chunk))
            yield chunk, probs.double().cpu().numpy()


def predict_probabilities(
    loaded: LoadedModel, items: Sequence[Item], *, batch_size: int = DEFAULT_BATCH_SIZE,
    progress: bool = True,
) -> np.ndarray:
    """Probabilities [N, C] (columns in loaded.class_names order) for ``items``."""
    parts = [p for _, p in iter_probabilities(loaded, items, batch_size=batch_size, progress=progress)]
    if not parts:
        return np.zeros((0, len(loaded.class_names)))
    return np.concatenate(parts)
