"""Per-judgement outcomes (``validate_judgements``, used by the whole analysis) and the legacy
bootstrap's measures as weighted statistics (the analysis itself uses ``estimators.py``; d' here is
pooled over raters, there per rater).

Every measure is computed from a judgement table and a weight matrix ``W`` of shape (B, n_rows): one
row of weights per bootstrap replicate (``W = ones((1, n))`` gives the plain estimate). That lets the
two-way cluster bootstrap (``bootstrap.py``) evaluate all replicates with a few matrix products.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import norm

# Columns a judgement table must have (``validate_judgements`` checks them at the edge).
REQUIRED_COLUMNS: tuple[str, ...] = (
    "rater_id",
    "item_id",
    "condition",
    "model_correct",
    "predicted_label",
    "true_label",
    "answer_model_correct",
    "answer_true_label",
    "answer_simulated_label",
    "trust",
    "cant_tell",
    "response_ms",
)
# Log-linear correction (Hautus 1995): add 0.5 to hit/false-alarm counts and 1 to the totals, so d' is
# finite when a rate is 0 or 1.
DPRIME_CORRECTION = 0.5


def validate_judgements(df: pd.DataFrame) -> pd.DataFrame:
    """Check the columns and return a copy with outcome columns added (never modifies ``df``).

    Added columns (float, NaN where not answered or "can't tell"): ``verify_correct`` (1 when the
    rater's verdict on the prediction matches the truth), ``accept`` (1 when the rater said the
    prediction is correct), ``sim_correct`` (the rater named the model's predicted class),
    ``label_correct`` (the rater named the item's current label), ``trust_value``.
    """
    missing = [c for c in REQUIRED_COLUMNS if c not in df.columns]
    if missing:
        raise ValueError(f"judgement table lacks columns {missing}: build it with load_judgements()")
    out = df.copy()
    cant = out["cant_tell"].fillna(False).astype(bool).to_numpy()
    answer = out["answer_model_correct"]
    answered = answer.notna().to_numpy() & ~cant
    truth = out["model_correct"].astype(float).to_numpy()
    accept = np.where(answered, answer.map(lambda v: float(bool(v)) if v is not None else np.nan), np.nan)
    out["accept"] = accept.astype(float)
    out["verify_correct"] = np.where(answered, (accept == truth).astype(float), np.nan)
    for answer_col, truth_col, name in (
        ("answer_simulated_label", "predicted_label", "sim_correct"),
        ("answer_true_label", "true_label", "label_correct"),
    ):
        given = out[answer_col].notna().to_numpy() & ~cant
        out[name] = np.where(given, (out[answer_col] == out[truth_col]).astype(float), np.nan)
    trust = pd.to_numeric(out["trust"], errors="coerce").to_numpy(dtype=float)
    out["trust_value"] = np.where(cant, np.nan, trust)
    return out


def _weighted_mean(values: np.ndarray, mask: np.ndarray, weights: np.ndarray) -> np.ndarray:
    valid = mask & ~np.isnan(values)
    if not valid.any():
        return np.full(weights.shape[0], np.nan)
    num = weights[:, valid] @ values[valid]
    den = weights[:, valid].sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1), np.nan)


def _weighted_auroc(scores: np.ndarray, positive: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """AUROC of ``scores`` for ``positive`` (Mann-Whitney, ties count half) under each weight row."""
    valid = ~np.isnan(scores)
    if valid.sum() == 0:
        return np.full(weights.shape[0], np.nan)
    levels, index = np.unique(scores[valid], return_inverse=True)
    onehot = np.zeros((valid.sum(), len(levels)))
    onehot[np.arange(valid.sum()), index] = 1.0
    pos = positive[valid]
    w = weights[:, valid]
    w_pos = w[:, pos] @ onehot[pos]  # (B, L) weight of positives at each score level
    w_neg = w[:, ~pos] @ onehot[~pos]
    below = np.cumsum(w_neg, axis=1) - w_neg
    num = (w_pos * (below + 0.5 * w_neg)).sum(axis=1)
    den = w_pos.sum(axis=1) * w_neg.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1), np.nan)


def _weighted_dprime(accept: np.ndarray, model_correct: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Error-detection sensitivity: signal = the model is wrong, "yes" = the rater rejects it."""
    valid = ~np.isnan(accept)
    reject = 1.0 - accept
    wrong, right = valid & ~model_correct, valid & model_correct
    if not wrong.any() or not right.any():
        return np.full(weights.shape[0], np.nan)
    hits = weights[:, wrong] @ reject[wrong]
    n_wrong = weights[:, wrong].sum(axis=1)
    false_alarms = weights[:, right] @ reject[right]
    n_right = weights[:, right].sum(axis=1)
    hit_rate = (hits + DPRIME_CORRECTION) / (n_wrong + 2 * DPRIME_CORRECTION)
    fa_rate = (false_alarms + DPRIME_CORRECTION) / (n_right + 2 * DPRIME_CORRECTION)
    return norm.ppf(hit_rate) - norm.ppf(fa_rate)


@dataclass(frozen=True)
class Measure:
    """A named statistic of a judgement table: ``compute(df, W) -> (B,)``; ``why_empty`` explains NaN."""

    name: str
    description: str
    compute: Callable[[pd.DataFrame, np.ndarray], np.ndarray]
    why_empty: str


def _mean(column: str, subset: Callable[[pd.DataFrame], np.ndarray] | None = None):
    def compute(df: pd.DataFrame, weights: np.ndarray) -> np.ndarray:
        mask = np.ones(len(df), bool) if subset is None else subset(df)
        return _weighted_mean(df[column].to_numpy(dtype=float), mask, weights)

    return compute


def _right(df: pd.DataFrame) -> np.ndarray:
    return df["model_correct"].to_numpy(dtype=bool)


def _wrong(df: pd.DataFrame) -> np.ndarray:
    return ~df["model_correct"].to_numpy(dtype=bool)


MEASURES: dict[str, Measure] = {
    m.name: m
    for m in (
        Measure(
            "verification_accuracy",
            "share of verdicts (is the prediction correct?) that are right",
            _mean("verify_correct"),
            "no verify answers (is `verify` among the tasks?)",
        ),
        Measure(
            "accept_rate_model_right",
            "share of right predictions the raters accepted",
            _mean("accept", _right),
            "no verify answers on items the model gets right",
        ),
        Measure(
            "accept_rate_model_wrong",
            "share of wrong predictions the raters accepted (over-reliance)",
            _mean("accept", _wrong),
            "no verify answers on items the model gets wrong (no model errors?)",
        ),
        Measure(
            "trust_model_right",
            "mean trust rating when the model is right",
            _mean("trust_value", _right),
            "no trust ratings on items the model gets right",
        ),
        Measure(
            "trust_model_wrong",
            "mean trust rating when the model is wrong",
            _mean("trust_value", _wrong),
            "no trust ratings on items the model gets wrong (no model errors?)",
        ),
        Measure(
            "trust_auroc",
            "AUROC of trust as a predictor of the model being right (0.5 = uninformative)",
            lambda df, w: _weighted_auroc(df["trust_value"].to_numpy(float), _right(df), w),
            "trust ratings on both right and wrong predictions are needed",
        ),
        Measure(
            "simulation_accuracy",
            "share of answers naming the class the model predicted",
            _mean("sim_correct"),
            "no simulate answers (is `simulate` among the tasks?)",
        ),
        Measure(
            "true_label_accuracy",
            "share of answers naming the item's current label",
            _mean("label_correct"),
            "no true_label answers (is `true_label` among the tasks?)",
        ),
        Measure(
            "error_detection_dprime",
            "d' of detecting model errors (rejecting wrong vs right predictions)",
            lambda df, w: _weighted_dprime(df["accept"].to_numpy(float), _right(df), w),
            "verify answers on both right and wrong predictions are needed",
        ),
    )
}
# Measures compared between conditions (contrasts); all of MEASURES.
CONTRAST_MEASURES: tuple[str, ...] = tuple(MEASURES)
# Per-rater measures with their chance level: a function of the number of classes.
PER_RATER_CHANCE: dict[str, Callable[[int], float]] = {
    "verification_accuracy": lambda n_classes: 0.5,
    "simulation_accuracy": lambda n_classes: 1.0 / max(n_classes, 1),
    "true_label_accuracy": lambda n_classes: 1.0 / max(n_classes, 1),
}
PER_RATER_COLUMN = {
    "verification_accuracy": "verify_correct",
    "simulation_accuracy": "sim_correct",
    "true_label_accuracy": "label_correct",
}
