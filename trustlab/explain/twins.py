"""Twins: explanation by example (nearest training items in the model's penultimate feature space).

``twin`` returns the k training items of the explained (predicted) class most similar to the image;
``counterfactual_twin`` the k most similar items of the most likely *other* class ("it is not a
B because it looks like these A's less than ..."). Similarity is the cosine of penultimate features.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from trustlab.explain.base import Attribution, Explainer, ExplainError, register
from trustlab.explain.layers import find_module, penultimate_features

FeaturesFn = Callable[[torch.Tensor], torch.Tensor]


@dataclass
class Gallery:
    """Embedded training items.

    embeddings: float32 [M, D], rows L2-normalised; labels: int [M] class indices;
    item_ids: M ids (database ids, or any key the caller wants back).
    """

    embeddings: np.ndarray
    labels: np.ndarray
    item_ids: list[int]

    def __post_init__(self) -> None:
        if not (len(self.embeddings) == len(self.labels) == len(self.item_ids)):
            raise ExplainError("gallery: embeddings, labels and item_ids differ in length")


def normalise_rows(features: np.ndarray) -> np.ndarray:
    """L2-normalised float32 rows (zero rows stay zero)."""
    norms = np.linalg.norm(features, axis=1, keepdims=True)
    return (features / np.maximum(norms, 1e-12)).astype(np.float32)


def build_gallery(
    features: FeaturesFn, batches: Sequence[torch.Tensor], labels: Sequence[int], item_ids: Sequence[int]
) -> Gallery:
    """Embed the training images (normalised batches [B, 3, H, W]) into a :class:`Gallery`."""
    with torch.no_grad():
        embedded = [features(batch).float().cpu().numpy() for batch in batches]
    matrix = np.concatenate(embedded) if embedded else np.zeros((0, 1), np.float32)
    return Gallery(normalise_rows(matrix), np.asarray(labels, dtype=np.int64), list(item_ids))


class _TwinBase(Explainer):
    """Shared search of both twin methods; ``k`` (from the catalogue) neighbours per image."""

    def __init__(
        self, model: nn.Module, *, gallery: Gallery, features: FeaturesFn | None = None, **kwargs: Any
    ) -> None:
        super().__init__(model, **kwargs)
        self.gallery = gallery
        layer = self.params.get("feature_layer") or None
        if layer:
            find_module(model, layer)  # a wrong name fails here, listing close matches
        self.features = features or (lambda x: penultimate_features(model, x, layer=layer))

    def search_classes(self, x: torch.Tensor, targets: list[int]) -> list[int]:
        """The class whose training items are searched for each image."""
        raise NotImplementedError

    def attribute(self, x: torch.Tensor, targets: list[int]) -> Attribution:
        with torch.no_grad():
            query = normalise_rows(self.features(x).float().cpu().numpy())
        similarity = query @ self.gallery.embeddings.T  # [N, M] cosine
        k = int(self.params["k"])
        neighbours = []
        for row, cls in zip(similarity, self.search_classes(x, targets), strict=True):
            candidates = np.flatnonzero(self.gallery.labels == cls)
            best = candidates[np.argsort(-row[candidates], kind="stable")[:k]]
            neighbours.append(
                [
                    {
                        "index": int(j),
                        "item_id": self.gallery.item_ids[j],
                        "similarity": float(row[j]),
                        "label": int(self.gallery.labels[j]),
                    }
                    for j in best
                ]
            )
        return Attribution(maps=None, targets=targets, neighbours=neighbours)


@register
class TwinExplainer(_TwinBase):
    """The k most similar training items of the explained class (``gallery`` and ``features``
    are constructor arguments; default features: the classifier head's input, found for any model
    by :func:`~trustlab.explain.layers.penultimate_features`, or the output of the optional
    ``feature_layer`` parameter, a dotted module name)."""

    name = "twin"

    def search_classes(self, x: torch.Tensor, targets: list[int]) -> list[int]:
        return list(targets)


@register
class CounterfactualTwinExplainer(_TwinBase):
    """The k most similar training items of the most probable class other than the target."""

    name = "counterfactual_twin"

    def search_classes(self, x: torch.Tensor, targets: list[int]) -> list[int]:
        probs = self.predict_proba(x).clone()
        probs[torch.arange(len(targets)), torch.tensor(targets)] = -1.0
        return probs.argmax(dim=1).tolist()
