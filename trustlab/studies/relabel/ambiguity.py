"""Ambiguous classes: class pairs that raters and the model confuse, with example items.

Two symmetric rates per class pair {a, b}, each in [0, 1]:

- rater rate: over all pairs of answers two different raters gave to the same item, the share of
  answer-pair ends at a or b whose other end is across the pair (a with b). Rater-vs-rater
  disagreement does not depend on the dataset's (possibly wrong) labels.
- model rate: from the confusion matrix C[given, predicted] of out-of-sample predictions,
  (C[a, b] + C[b, a]) / (row a + row b): how often the model puts a's items in b or b's in a.

The pair's score is the mean of the rates available. Pairs above MERGE_RATE are suggested for a
merge, pairs above REDEFINE_RATE for a clearer definition (guidelines, examples).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from trustlab.studies.relabel.consensus import as_label_matrix, vote_counts

# Above this combined rate the two classes are confused so often that one class is the honest
# description; above REDEFINE_RATE (several times what uniform noise gives a pair) the
# definitions need sharpening.
MERGE_RATE = 0.35
REDEFINE_RATE = 0.1
DEFAULT_EXAMPLES = 5
AMBIGUITY_COLUMNS = [
    "class_a", "class_b", "score", "rater_rate", "model_rate", "rater_pairs", "model_items",
    "examples", "suggestion",
]


def rater_pair_counts(labels_multiannotator: np.ndarray | pd.DataFrame, *, num_classes: int) -> np.ndarray:
    """(K, K) counts of ordered answer pairs (a from one rater, b from another) on the same item."""
    votes = vote_counts(labels_multiannotator, num_classes=num_classes)
    pairs = np.einsum("ia,ib->ab", votes, votes)
    pairs[np.diag_indices(num_classes)] -= votes.sum(axis=0)  # a rater is not paired with itself
    return pairs


def model_confusion(given_labels: np.ndarray, pred_probs: np.ndarray) -> np.ndarray:
    """(K, K) counts C[given, predicted] with predicted = argmax of ``pred_probs`` (NaN rows skipped)."""
    pred_probs = np.asarray(pred_probs, dtype=float)
    k = pred_probs.shape[1]
    known = ~np.isnan(pred_probs).any(axis=1)  # rows without model probabilities are skipped
    confusion = np.zeros((k, k))
    given = np.asarray(given_labels, dtype=int)[known]
    np.add.at(confusion, (given, pred_probs[known].argmax(axis=1)), 1)
    return confusion


def _pair_rates(counts: np.ndarray) -> np.ndarray:
    """Symmetric (K, K) rate (C[a,b] + C[b,a]) / (row a + row b); NaN where both rows are empty."""
    rows = counts.sum(axis=1)
    denominator = rows[:, None] + rows[None, :]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denominator > 0, (counts + counts.T) / denominator, np.nan)


def _suggestion(score: float, a: str, b: str) -> str:
    if np.isnan(score):
        return "no evidence"
    if score >= MERGE_RATE:
        return f"merge: '{a}' and '{b}' are confused in {score:.0%} of comparisons; consider one class"
    if score >= REDEFINE_RATE:
        return f"redefine: sharpen the definitions of '{a}' vs '{b}' (guidelines and examples)"
    return "keep"


def ambiguous_pairs(
    *,
    num_classes: int,
    labels_multiannotator: np.ndarray | pd.DataFrame | None = None,
    given_labels: np.ndarray | None = None,
    pred_probs: np.ndarray | None = None,
    class_names: Sequence[str] | None = None,
    item_ids: Sequence[int] | None = None,
    n_examples: int = DEFAULT_EXAMPLES,
) -> pd.DataFrame:
    """Every class pair ranked by how much raters and the model confuse it.

    Parameters
    ----------
    labels_multiannotator : (N, M) rater answers, NaN where missing (optional).
    given_labels, pred_probs : (N,) current labels and (N, K) out-of-sample probabilities, for the
        model's confusion (optional, together; rows of NaN = no prediction for that item).
    class_names : K names for the output (default "0".."K-1"); item_ids : N ids for the examples.

    Returns
    -------
    DataFrame with AMBIGUITY_COLUMNS, best score first: class names, score, rater_rate,
    model_rate (NaN when that evidence is absent), rater_pairs / model_items (sample sizes:
    answer-pair ends and items involving the pair), examples (up to ``n_examples`` item ids whose
    answers split across the pair or whose given label and prediction straddle it, clearest
    first), suggestion ("merge: ...", "redefine: ...", "keep").
    """
    k = int(num_classes)
    names = list(class_names) if class_names is not None else [str(c) for c in range(k)]
    _check_inputs(k, names, labels_multiannotator, given_labels, pred_probs)
    n, votes, rater_rates, rater_ends = _rater_evidence(labels_multiannotator, k)
    n, given, probs, model_rates, model_items = _model_evidence(given_labels, pred_probs, k, n)
    ids = np.asarray(item_ids) if item_ids is not None else np.arange(n)
    if ids.size != n:
        raise ValueError(f"item_ids has {ids.size} ids for {n} items")
    out = []
    for a in range(k):
        for b in range(a + 1, k):
            rates = [r for r in (rater_rates[a, b], model_rates[a, b]) if not np.isnan(r)]
            score = float(np.mean(rates)) if rates else float("nan")
            out.append({
                "class_a": names[a], "class_b": names[b], "score": score,
                "rater_rate": float(rater_rates[a, b]), "model_rate": float(model_rates[a, b]),
                "rater_pairs": int(rater_ends[a, b]), "model_items": int(model_items[a, b]),
                "examples": _examples(a, b, votes, given, probs, ids, n_examples),
                "suggestion": _suggestion(score, names[a], names[b]),
            })
    frame = pd.DataFrame(out, columns=AMBIGUITY_COLUMNS)
    frame = frame.sort_values("score", ascending=False, na_position="last", kind="stable")
    return frame.reset_index(drop=True)


def _check_inputs(
    k: int,
    names: Sequence[str],
    labels_multiannotator: np.ndarray | pd.DataFrame | None,
    given_labels: np.ndarray | None,
    pred_probs: np.ndarray | None,
) -> None:
    if len(names) != k:
        raise ValueError(f"class_names has {len(names)} names for {k} classes")
    if labels_multiannotator is None and pred_probs is None:
        raise ValueError("pass rater answers (labels_multiannotator) and/or pred_probs with given_labels")
    if (pred_probs is None) != (given_labels is None):
        raise ValueError("pred_probs and given_labels go together")


def _rater_evidence(
    labels_multiannotator: np.ndarray | pd.DataFrame | None, k: int
) -> tuple[int | None, np.ndarray | None, np.ndarray, np.ndarray]:
    """(items, vote counts (N, K), each pair's confusion rate among rater answers (K, K; NaN without
    answers), answer-pair ends involving each pair); (None, None, NaN, 0) without rater answers."""
    if labels_multiannotator is None:
        return None, None, np.full((k, k), np.nan), np.zeros((k, k))
    labels = as_label_matrix(labels_multiannotator)
    pairs = rater_pair_counts(labels, num_classes=k)
    rows = pairs.sum(axis=1)
    votes = vote_counts(labels, num_classes=k)
    return labels.shape[0], votes, _pair_rates(pairs), rows[:, None] + rows[None, :]


def _model_evidence(
    given_labels: np.ndarray | None, pred_probs: np.ndarray | None, k: int, n: int | None
) -> tuple[int | None, np.ndarray | None, np.ndarray | None, np.ndarray, np.ndarray]:
    """(items, given labels, probabilities, each pair's confusion rate between given label and
    prediction (K, K; NaN without predictions), items involving each pair); ``n`` and no evidence
    without predictions. ``n``: the items the rater answers cover (None: no answers)."""
    if pred_probs is None:
        return n, None, None, np.full((k, k), np.nan), np.zeros((k, k))
    probs = np.asarray(pred_probs, dtype=float)
    given = np.asarray(given_labels, dtype=int)
    if probs.shape != (given.size, k) or (n is not None and given.size != n):
        raise ValueError(f"pred_probs must have shape ({n if n is not None else given.size}, {k})")
    confusion = model_confusion(given, probs)
    rows = confusion.sum(axis=1)
    return given.size, given, probs, _pair_rates(confusion), rows[:, None] + rows[None, :]


def _examples(
    a: int, b: int, votes: np.ndarray | None, given: np.ndarray | None, probs: np.ndarray | None,
    ids: np.ndarray, n_examples: int,
) -> list[int]:
    """Items that straddle {a, b}, most balanced first: strength = min(share of a, share of b)
    over the rater votes plus, when the given label and the prediction straddle the pair, the
    model's probability of the other class."""
    n = ids.size
    strength = np.zeros(n)
    if votes is not None:
        total = np.maximum(votes.sum(axis=1), 1)
        strength += np.minimum(votes[:, a], votes[:, b]) / total
    if probs is not None:
        probs = np.nan_to_num(probs, nan=0.0)
        predicted = np.where(probs.sum(axis=1) > 0, probs.argmax(axis=1), -1)
        straddle = ((given == a) & (predicted == b)) | ((given == b) & (predicted == a))
        other = np.where(given == a, probs[:, b], probs[:, a])
        strength += np.where(straddle, other, 0.0)
    order = np.argsort(-strength, kind="stable")
    chosen = order[strength[order] > 0][:n_examples]
    return [int(i) for i in ids[chosen]]
