"""Twins: nearest training items of the predicted class; counterfactual twins of the runner-up class."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from trustlab.explain.base import ExplainError, get_explainer
from trustlab.explain.twins import Gallery, build_gallery


class ColourModel(nn.Module):
    """3 classes = the dominant colour channel; features = mean colour (so similarity is colour)."""

    def __init__(self) -> None:
        super().__init__()
        self.head = nn.Linear(3, 3)
        with torch.no_grad():
            self.head.weight.copy_(torch.eye(3) * 10)
            self.head.bias.zero_()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(x.mean(dim=(2, 3)))


def _images(colours: list[tuple[float, float, float]]) -> torch.Tensor:
    return torch.tensor(colours, dtype=torch.float32)[:, :, None, None].expand(-1, -1, 8, 8).clone()


def test_twins_and_counterfactual_twins_return_the_right_classes():
    model = ColourModel().eval()
    train = [
        (0.9, 0.1, 0.1),
        (0.8, 0.3, 0.1),
        (0.6, 0.5, 0.1),
        (0.1, 0.9, 0.1),
        (0.4, 0.7, 0.1),
        (0.1, 0.1, 0.9),
        (0.3, 0.2, 0.8),
    ]
    labels = [0, 0, 0, 1, 1, 2, 2]
    gallery = build_gallery(
        lambda t: t.mean(dim=(2, 3)), [_images(train)], labels, [100 + i for i in range(7)]
    )
    query = _images([(0.7, 0.45, 0.1)])  # reddish with some green: predicted 0, runner-up 1
    with get_explainer("twin")(model, gallery=gallery, k=2) as twin:
        result = twin.explain(query)
    assert result.targets == [0]
    found = result.neighbours[0]
    assert [n["label"] for n in found] == [0, 0]
    assert found[0]["item_id"] == 102 and found[0]["similarity"] >= found[1]["similarity"]
    with get_explainer("counterfactual_twin")(model, gallery=gallery, k=5) as counter:
        other = counter.explain(query).neighbours[0]
    assert [n["label"] for n in other] == [1, 1] and other[0]["item_id"] == 104


def test_gallery_lengths_are_checked():
    with pytest.raises(ExplainError):
        Gallery(np.zeros((2, 3), np.float32), np.array([0]), [1, 2])
