"""Seeded simulations with a known truth: planted label noise, noisy raters, model probabilities.

Used by the relabel tests and benchmarks/bench_relabel.py to measure how well proposals recover
flipped labels and whether a planted confusable class pair tops the ambiguity list.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

# Rater accuracies are drawn uniformly from this range unless given: noisy, far better than chance.
DEFAULT_RATER_ACCURACY = (0.7, 0.9)
# Share of the items of a confusable class pair that are genuinely ambiguous (look like either
# class), and the chance that a rater (or the model) still picks the true class on those; errors
# on ambiguous items go to the partner class.
DEFAULT_AMBIGUOUS_SHARE = 0.125  # the demo generator's AMBIGUOUS_RATE
DEFAULT_AMBIGUOUS_ACCURACY = 0.6
DEFAULT_MODEL_ACCURACY = 0.9


def plant_label_noise(
    true_labels: np.ndarray, *, num_classes: int, rate: float, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Flip exactly round(rate * N) labels to a uniformly chosen other class.

    Returns (noisy_labels (N,), flipped (N,) bool).
    """
    if not 0 <= rate < 1:
        raise ValueError(f"rate must be in [0, 1), got {rate}")
    rng = np.random.default_rng(seed)
    true_labels = np.asarray(true_labels, dtype=int)
    n_flip = int(round(rate * true_labels.size))
    flipped = np.zeros(true_labels.size, dtype=bool)
    flipped[rng.choice(true_labels.size, n_flip, replace=False)] = True
    noisy = true_labels.copy()
    shift = rng.integers(1, num_classes, n_flip)  # never 0: the new label always differs
    noisy[flipped] = (true_labels[flipped] + shift) % num_classes
    return noisy, flipped


def ambiguous_items(
    true_labels: np.ndarray,
    *,
    confusable: Sequence[tuple[int, int]],
    share: float = DEFAULT_AMBIGUOUS_SHARE,
    seed: int = 0,
) -> np.ndarray:
    """(N,) bool: which items of the confusable classes are drawn as ambiguous."""
    rng = np.random.default_rng(seed)
    true_labels = np.asarray(true_labels, dtype=int)
    in_pair = np.isin(true_labels, [c for pair in confusable for c in pair])
    return in_pair & (rng.random(true_labels.size) < share)


def _partner(confusable: Sequence[tuple[int, int]], num_classes: int) -> np.ndarray:
    partner = np.full(num_classes, -1)
    for a, b in confusable:
        partner[a], partner[b] = b, a
    return partner


def _answer(
    truth: int, p_right: float, ambiguous: bool, partner: np.ndarray, num_classes: int,
    rng: np.random.Generator,
) -> int:
    if ambiguous:
        return truth if rng.random() < DEFAULT_AMBIGUOUS_ACCURACY else int(partner[truth])
    if rng.random() < p_right:
        return truth
    return int((truth + rng.integers(1, num_classes)) % num_classes)


def simulate_rater_labels(
    true_labels: np.ndarray,
    *,
    num_classes: int,
    n_raters: int = 8,
    raters_per_item: int = 5,
    accuracy: tuple[float, float] | Sequence[float] = DEFAULT_RATER_ACCURACY,
    confusable: Sequence[tuple[int, int]] = (),
    ambiguous: np.ndarray | None = None,
    seed: int = 0,
) -> np.ndarray:
    """(N, n_raters) answers with NaN where a rater did not see the item.

    Each item goes to ``raters_per_item`` distinct raters at random. Rater m answers the true class
    with probability accuracy[m], else a uniformly random wrong class; on ``ambiguous`` items
    (see ``ambiguous_items``) every rater picks the true class with DEFAULT_AMBIGUOUS_ACCURACY and
    the confusable partner otherwise. ``accuracy`` is a (low, high) range to draw from, or one
    value per rater.
    """
    rng = np.random.default_rng(seed)
    true_labels = np.asarray(true_labels, dtype=int)
    if not 1 <= raters_per_item <= n_raters:
        raise ValueError(f"raters_per_item must be in 1..{n_raters}")
    acc = np.asarray(accuracy, dtype=float)
    if acc.size == 2 and n_raters != 2:
        acc = rng.uniform(acc[0], acc[1], n_raters)
    if acc.size != n_raters:
        raise ValueError(f"accuracy needs a (low, high) range or {n_raters} values")
    partner = _partner(confusable, num_classes)
    amb = np.zeros(true_labels.size, dtype=bool) if ambiguous is None else np.asarray(ambiguous, dtype=bool)
    out = np.full((true_labels.size, n_raters), np.nan)
    for i, truth in enumerate(true_labels):
        for m in rng.choice(n_raters, raters_per_item, replace=False):
            out[i, m] = _answer(truth, acc[m], bool(amb[i]), partner, num_classes, rng)
    return out


def simulate_pred_probs(
    true_labels: np.ndarray,
    *,
    num_classes: int,
    accuracy: float = DEFAULT_MODEL_ACCURACY,
    confusable: Sequence[tuple[int, int]] = (),
    ambiguous: np.ndarray | None = None,
    seed: int = 0,
) -> np.ndarray:
    """(N, K) out-of-sample-like probabilities: the argmax is the true class with probability
    ``accuracy`` (DEFAULT_AMBIGUOUS_ACCURACY on ambiguous items, whose errors go to the partner);
    the top class gets 0.5..0.95 and the true class, when not on top, most of the rest."""
    rng = np.random.default_rng(seed)
    true_labels = np.asarray(true_labels, dtype=int)
    partner = _partner(confusable, num_classes)
    amb = np.zeros(true_labels.size, dtype=bool) if ambiguous is None else np.asarray(ambiguous, dtype=bool)
    probs = np.zeros((true_labels.size, num_classes))
    for i, truth in enumerate(true_labels):
        top = _answer(truth, accuracy, bool(amb[i]), partner, num_classes, rng)
        row = rng.dirichlet(np.ones(num_classes))
        top_mass = rng.uniform(0.5, 0.95)
        row[top] = 0.0
        if top != truth:  # the model still gives the true class a good share
            row[truth] = row.sum() * 2
        row = row / row.sum() * (1.0 - top_mass)
        row[top] = top_mass
        probs[i] = row
    return probs
