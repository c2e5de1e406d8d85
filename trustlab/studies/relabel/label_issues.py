"""Label issues found without raters: dataset items whose given label is likely wrong, ranked by
cleanlab's confident learning on out-of-sample probabilities."""

from __future__ import annotations

import numpy as np
import pandas as pd

# cleanlab's default pruning rule: how many items to flag per (given, true) class pair comes from
# the confident joint, so the count adapts to the estimated noise rate.
DEFAULT_FILTER_BY = "prune_by_noise_rate"
FILTER_BY = ("prune_by_noise_rate", "prune_by_class", "both", "confident_learning", "predicted_neq_given")
# cleanlab's filter counts an item only when P(true class) clears that class's mean self-confidence,
# so with under-confident probabilities (fold models trained for a few epochs) it flags too few:
# on digits with 6% planted flips it missed 19 of 108, 18 of them with P(given label) <= 0.09 and
# another class >= 0.59. Items where another class beats the given label by this margin are added.
# Chosen on benchmarks/bench_relabel.py --case digits (our CNN's and the SVM's probabilities):
# recall 0.82 -> 0.94 (CNN) and 0.85 -> 0.91 (SVM), precision 0.97 -> 0.96 and 0.96 -> 0.96.
LABEL_ISSUE_MIN_MARGIN = 0.65
LABEL_ISSUE_COLUMNS = [
    "index", "given_label", "suggested_label", "self_confidence", "suggested_prob", "score",
]


def rank_label_issues(
    labels: np.ndarray, pred_probs: np.ndarray, *, filter_by: str = DEFAULT_FILTER_BY,
    min_margin: float | None = LABEL_ISSUE_MIN_MARGIN,
) -> pd.DataFrame:
    """Items whose given label is likely wrong, most likely first.

    Parameters
    ----------
    labels : (N,) given class indices 0..K-1.
    pred_probs : (N, K) out-of-sample predicted probabilities (K-fold "crossval" predictions, or
        holdout predictions on items the model never trained on); in-sample probabilities make
        the model agree with the noisy labels it memorised.
    filter_by : cleanlab's rule for how many items to flag.
    min_margin : also flag items where another class's probability exceeds the given label's by at
        least this much (None: cleanlab's filter alone).

    Returns
    -------
    DataFrame with LABEL_ISSUE_COLUMNS: ``index`` (row in ``labels``), ``given_label``,
    ``suggested_label`` (the likeliest other class), ``self_confidence`` (P(given label)),
    ``suggested_prob``, and ``score`` = 1 - self_confidence, ranked as
    ``cleanlab.filter.find_label_issues(..., return_indices_ranked_by="self_confidence")``.
    """
    from cleanlab.filter import find_label_issues

    labels = np.asarray(labels)
    pred_probs = np.asarray(pred_probs, dtype=float)
    if labels.ndim != 1 or pred_probs.ndim != 2 or pred_probs.shape[0] != labels.shape[0]:
        raise ValueError(
            f"labels must be (N,) and pred_probs (N, K); got {labels.shape} and {pred_probs.shape}"
        )
    if filter_by not in FILTER_BY:
        raise ValueError(f"filter_by={filter_by!r} is not one of {FILTER_BY}")
    k = pred_probs.shape[1]
    if labels.size and (labels.min() < 0 or labels.max() >= k):
        raise ValueError(f"labels must be class indices in 0..{k - 1}")
    if labels.size == 0:
        return pd.DataFrame(columns=LABEL_ISSUE_COLUMNS)
    flagged = find_label_issues(labels.astype(int), pred_probs, filter_by=filter_by)
    if min_margin is not None:
        self_conf_all = pred_probs[np.arange(labels.size), labels.astype(int)]
        others_all = pred_probs.copy()
        others_all[np.arange(labels.size), labels.astype(int)] = -np.inf
        flagged = flagged | (others_all.max(axis=1) - self_conf_all >= min_margin)
    idx = np.flatnonzero(flagged)
    ranked = idx[np.argsort(pred_probs[idx, labels[idx].astype(int)], kind="stable")]
    given = labels[ranked].astype(int)
    others = pred_probs[ranked].copy()
    others[np.arange(ranked.size), given] = -np.inf
    suggested = others.argmax(axis=1)
    self_conf = pred_probs[ranked, given]
    return pd.DataFrame({
        "index": ranked, "given_label": given, "suggested_label": suggested, "self_confidence": self_conf,
        "suggested_prob": pred_probs[ranked, suggested], "score": 1.0 - self_conf,
    }, columns=LABEL_ISSUE_COLUMNS)
