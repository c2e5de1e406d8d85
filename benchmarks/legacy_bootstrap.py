"""The pigeonhole product bootstrap, kept only as the baseline that
``bench_inference.py`` measures the two-way cluster-robust inference against (its intervals are about
1.9x too wide: it counts the rater x item term about three times). Not part of the package.

Measures here are weighted statistics of a judgement table and a weight matrix ``W`` of shape
(B, n_rows), one row of weights per replicate (``W = ones((1, n))`` gives the plain estimate); d' is
pooled over raters.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from itertools import combinations
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import norm
from statsmodels.stats.multitest import multipletests

from trustlab.studies.config.study import NO_EXPLANATION

# Log-linear correction (Hautus 1995): add 0.5 to hit/false-alarm counts and 1 to the totals, so d' is
# finite when a rate is 0 or 1.
DPRIME_CORRECTION = 0.5


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
# Measures compared between conditions (contrasts); all of MEASURES.
CONTRAST_MEASURES: tuple[str, ...] = tuple(MEASURES)

DEFAULT_REPLICATES = 1000
CI_LEVEL = 0.95


def cluster_weights(df: pd.DataFrame, *, replicates: int = DEFAULT_REPLICATES, seed: int = 0) -> np.ndarray:
    """Replicate weights of shape (replicates, len(df)) from resampling raters and items."""
    rng = np.random.default_rng(seed)
    rater_codes, raters = pd.factorize(df["rater_id"])
    item_codes, items = pd.factorize(df["item_id"])
    rater_draws = rng.multinomial(len(raters), np.full(len(raters), 1 / len(raters)), size=replicates)
    item_draws = rng.multinomial(len(items), np.full(len(items), 1 / len(items)), size=replicates)
    return (rater_draws[:, rater_codes] * item_draws[:, item_codes]).astype(float)


def _interval(values: np.ndarray) -> tuple[float, float]:
    finite = values[np.isfinite(values)]
    if len(finite) < 0.9 * len(values) or len(finite) == 0:
        return float("nan"), float("nan")
    alpha = (1 - CI_LEVEL) / 2
    low, high = np.quantile(finite, [alpha, 1 - alpha])
    return float(low), float(high)


def estimate(df: pd.DataFrame, weights: np.ndarray, measure: str) -> dict[str, Any]:
    """{mean, ci_low, ci_high} of a measure on ``df`` (rows of one condition), plus ``reason`` if NaN."""
    spec = MEASURES[measure]
    point = float(spec.compute(df, np.ones((1, len(df))))[0]) if len(df) else float("nan")
    if not np.isfinite(point):
        reason = spec.why_empty if len(df) else "no judgements in this condition"
        return {"mean": None, "ci_low": None, "ci_high": None, "reason": reason}
    low, high = _interval(spec.compute(df, weights))
    return {"mean": point, "ci_low": _none(low), "ci_high": _none(high)}


def _none(value: float) -> float | None:
    return None if value is None or not np.isfinite(value) else float(value)


def contrast_pairs(conditions: list[str]) -> list[tuple[str, str]]:
    """Each condition against ``none`` (when present), then every pair of the other conditions."""
    others = [c for c in conditions if c != NO_EXPLANATION]
    pairs = [(c, NO_EXPLANATION) for c in others] if NO_EXPLANATION in conditions else []
    return pairs + list(combinations(others, 2))


def contrasts(df: pd.DataFrame, weights: np.ndarray, conditions: list[str]) -> list[dict[str, Any]]:
    """Differences a - b per measure with 95% CIs and Holm-corrected p-values.

    Parameters
    ----------
    df: all judgements (validated), with ``weights`` of shape (B, len(df)) from ``cluster_weights``.
    conditions: the study's conditions in config order.

    Returns a list of {a, b, measure, diff, ci_low, ci_high, p, p_holm, n_a, n_b}; a measure that is
    undefined in a or b is left out (its estimate carries the reason).
    """
    out: list[dict[str, Any]] = []
    condition_of = df["condition"].to_numpy()
    for measure in CONTRAST_MEASURES:
        spec = MEASURES[measure]
        family: list[dict[str, Any]] = []
        for a, b in contrast_pairs(conditions):
            in_a, in_b = condition_of == a, condition_of == b
            if not in_a.any() or not in_b.any():
                continue
            df_a, df_b = df[in_a], df[in_b]
            point = (
                spec.compute(df_a, np.ones((1, len(df_a))))[0]
                - spec.compute(df_b, np.ones((1, len(df_b))))[0]
            )
            if not np.isfinite(point):
                continue
            diffs = spec.compute(df_a, weights[:, in_a]) - spec.compute(df_b, weights[:, in_b])
            finite = diffs[np.isfinite(diffs)]
            low, high = _interval(diffs)
            # Two-sided bootstrap p-value with the +1 correction (never exactly 0).
            tail = min((finite <= 0).sum(), (finite >= 0).sum())
            p = min(1.0, 2 * (tail + 1) / (len(finite) + 1)) if len(finite) else float("nan")
            family.append(
                {
                    "a": a,
                    "b": b,
                    "measure": measure,
                    "diff": float(point),
                    "ci_low": _none(low),
                    "ci_high": _none(high),
                    "p": p,
                    "n_a": int(in_a.sum()),
                    "n_b": int(in_b.sum()),
                }
            )
        if family:
            p_values = np.array([row["p"] for row in family])
            ok = np.isfinite(p_values)
            holm = np.full(len(family), np.nan)
            if ok.any():
                holm[ok] = multipletests(p_values[ok], method="holm")[1]
            for row, corrected in zip(family, holm, strict=True):
                row["p_holm"] = _none(corrected)
            out.extend(family)
    return out
