"""Seeded synthetic studies (no database) for calibration tests, power analysis and benchmarks.

Each rater and each item shift the probability of a correct verdict (normal offsets):
``P(verdict right) = clip(accuracy + u_rater + v_item + effect[condition])``; a verdict on a right
prediction accepts it, one on a wrong prediction rejects it. Trust (1-7) rises with acceptance and has
its own rater and item offsets; confidence (1-5) rises with the verdict being right.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd

# Probabilities are clipped into this range so that every judgement stays random.
P_MIN, P_MAX = 0.02, 0.98
TRUST_POINTS, CONFIDENCE_POINTS = 7, 5


@dataclass(frozen=True)
class SyntheticStudy:
    """What a synthetic study looks like; ``effect`` adds to P(verdict right) per condition."""

    n_raters: int = 30
    n_items: int = 40
    conditions: tuple[str, ...] = ("none", "gradcam")
    design: Literal["within", "between"] = "within"
    model_accuracy: float = 0.7  # share of items the model gets right (stratified: exact up to rounding)
    verify_accuracy: float = 0.7
    rater_sd: float = 0.05
    item_sd: float = 0.15
    items_per_rater: int | None = None  # None: every rater sees every item
    cant_tell_rate: float = 0.0
    effect: Mapping[str, float] = field(default_factory=dict)


def simulate_judgements(spec: SyntheticStudy, rng: np.random.Generator) -> pd.DataFrame:
    """One study's judgement table with the columns ``validate_judgements`` needs, one row per
    (rater, item) shown. Within: conditions alternate over a rater's items (rotated between raters);
    between: each rater sees one condition."""
    n_r, n_i, k = spec.n_raters, spec.n_items, len(spec.conditions)
    n_right = int(round(spec.model_accuracy * n_i))
    model_right = np.zeros(n_i, bool)
    model_right[rng.permutation(n_i)[:n_right]] = True
    per_rater = n_i if spec.items_per_rater is None else min(spec.items_per_rater, n_i)
    if per_rater == n_i:
        item = np.tile(np.arange(n_i), n_r)
    else:
        item = np.concatenate([rng.permutation(n_i)[:per_rater] for _ in range(n_r)])
    rater = np.repeat(np.arange(n_r), per_rater)
    position = np.tile(np.arange(per_rater), n_r)
    if spec.design == "within":
        cond_index = (rater + item) % k
    else:
        cond_index = rater % k
    return answer_judgements(
        spec, rng, rater=rater, item=item, cond_index=cond_index, position=position, model_right=model_right
    )


def answer_judgements(
    spec: SyntheticStudy,
    rng: np.random.Generator,
    *,
    rater: np.ndarray,
    item: np.ndarray,
    cond_index: np.ndarray,
    position: np.ndarray,
    model_right: np.ndarray,
) -> pd.DataFrame:
    """The answer model of ``simulate_judgements`` on a given design: one row per (rater, item) shown.

    rater, item, cond_index, position: (n,) 0-based rater and item indices (below spec.n_raters and
    spec.n_items), index into spec.conditions and position in the rater's list; model_right:
    (spec.n_items,) bool. ``power.py`` passes the study's own assignment here."""
    n_r, n_i = spec.n_raters, spec.n_items
    conditions = np.asarray(spec.conditions, dtype=object)
    effect = np.array([spec.effect.get(c, 0.0) for c in spec.conditions])
    u, v = rng.normal(0, spec.rater_sd, n_r), rng.normal(0, spec.item_sd, n_i)
    p = np.clip(spec.verify_accuracy + u[rater] + v[item] + effect[cond_index], P_MIN, P_MAX)
    right_verdict = rng.random(len(p)) < p
    truth = model_right[item]
    accept = np.where(truth, right_verdict, ~right_verdict)
    trust_rater, trust_item = rng.normal(0, 0.7, n_r), rng.normal(0, 0.5, n_i)
    trust = 4 + 1.5 * (2 * accept - 1) + trust_rater[rater] + trust_item[item] + rng.normal(0, 1, len(p))
    confidence = 3 + 0.8 * (2 * right_verdict - 1) + rng.normal(0, 0.6, n_r)[rater] + rng.normal(0, 1, len(p))
    cant = rng.random(len(p)) < spec.cant_tell_rate
    return pd.DataFrame(
        {
            "rater_id": rater + 1,
            "rater": [f"r{r + 1}" for r in rater],
            "item_id": item + 1,
            "condition": conditions[cond_index],
            "position": position,
            "is_gold": False,
            "model_correct": truth,
            "predicted_label": np.where(truth, "a", "b"),
            "true_label": "a",
            "answer_model_correct": pd.array(accept, dtype=object),
            "answer_true_label": None,
            "answer_simulated_label": None,
            "trust": np.clip(np.rint(trust), 1, TRUST_POINTS),
            "rater_confidence": np.clip(np.rint(confidence), 1, CONFIDENCE_POINTS),
            "cant_tell": cant,
            "response_ms": 1000.0,
        }
    )


def studies(specs: Sequence[SyntheticStudy], *, seed: int) -> list[tuple[SyntheticStudy, pd.DataFrame]]:
    """One seeded table per spec (independent streams from one seed)."""
    streams = np.random.SeedSequence(seed).spawn(len(specs))
    return [
        (s, simulate_judgements(s, np.random.default_rng(st))) for s, st in zip(specs, streams, strict=True)
    ]
