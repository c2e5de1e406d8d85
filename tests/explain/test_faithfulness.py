"""Faithfulness metrics on a model whose evidence we know: it only looks at the top-left square."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from trustlab.explain.base import get_explainer
from trustlab.explain.faithfulness import (
    deletion_insertion_auc,
    faithfulness_scores,
    mass_inside,
    pointing_game,
    road_score,
)

SIDE = 32
REGION = (slice(0, 10), slice(0, 10))


class RegionModel(nn.Module):
    """Class 1 when the top-left 10x10 square is bright: logit = gain * (mean brightness - 0.75)."""

    def __init__(self) -> None:
        super().__init__()
        self.gain = nn.Parameter(torch.tensor(10.0))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        brightness = x[:, :, REGION[0], REGION[1]].mean(dim=(1, 2, 3))
        logit = self.gain * (brightness - 0.75)
        return torch.stack([torch.zeros_like(logit), logit], dim=1)


def _batch(n: int = 4) -> tuple[torch.Tensor, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.uniform(0.0, 0.4, size=(n, 3, SIDE, SIDE)).astype(np.float32)
    x[:, :, REGION[0], REGION[1]] = 1.0
    evidence = np.zeros((n, SIDE, SIDE), dtype=bool)
    evidence[:, REGION[0], REGION[1]] = True
    return torch.from_numpy(x), evidence


def test_true_evidence_beats_a_random_map():
    model = RegionModel().eval()
    x, evidence = _batch()
    before = x.clone()
    targets = [1] * len(x)
    true_map = evidence.astype(np.float32)
    random_map = np.random.default_rng(1).random(true_map.shape).astype(np.float32)
    del_true, ins_true = deletion_insertion_auc(model, x, true_map, targets)
    del_rand, ins_rand = deletion_insertion_auc(model, x, random_map, targets)
    assert (del_true < del_rand - 0.2).all() and (ins_true > ins_rand + 0.1).all()
    assert (road_score(model, x, true_map, targets) > road_score(model, x, random_map, targets)).all()
    assert pointing_game(true_map, evidence).all() and not pointing_game(-true_map, evidence).any()
    near = np.zeros_like(true_map)
    near[:, 12, 12] = 1.0  # 3 px right and below the corner (9, 9): 4.2 px away
    assert not pointing_game(near, evidence).any() and pointing_game(near, evidence, tolerance=5).all()
    np.testing.assert_allclose(mass_inside(true_map, evidence), 1.0)
    assert torch.equal(x, before)


def test_scores_of_an_explainer_on_the_known_model():
    model = RegionModel().eval()
    x, evidence = _batch(2)
    with get_explainer("integrated_gradients")(model, n_steps=16) as explainer:
        maps = explainer.explain(x, targets=[1, 1]).maps
    scores = faithfulness_scores(model, x, maps, [1, 1], evidence=list(evidence))
    random_scores = faithfulness_scores(
        model, x, np.random.default_rng(2).random(maps.shape), [1, 1], evidence=[None, None]
    )
    for good, bad in zip(scores, random_scores, strict=True):
        assert good["pointing_game"] is True and good["mass_inside"] > 0.95
        assert good["deletion_auc"] < bad["deletion_auc"] and good["road"] > bad["road"]
        assert "pointing_game" not in bad


def test_road_is_reproducible():
    model = RegionModel().eval()
    x, evidence = _batch(2)
    maps = evidence.astype(np.float32)
    np.testing.assert_array_equal(road_score(model, x, maps, [1, 1]), road_score(model, x, maps, [1, 1]))
