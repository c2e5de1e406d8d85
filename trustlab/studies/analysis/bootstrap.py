"""Legacy, kept only as the baseline of ``benchmarks/bench_inference.py``: the analysis uses the
two-way cluster-robust variance in ``inference.py``. This product bootstrap counts the rater x item term
about three times, so its intervals are about 1.7-1.9x too wide (issue 12).

Two-way cluster bootstrap (raters x items) for measures and contrasts between conditions.

Raters and items are both random samples, and judgements are correlated within each, so both are
resampled (Owen's pigeonhole bootstrap, 2007): each replicate draws raters with replacement and items
with replacement, and a judgement's weight is (times its rater was drawn) x (times its item was drawn).
The same draws are used for every condition, so a contrast keeps its pairing within raters and items.
Confidence intervals are percentile intervals; p-values are two-sided bootstrap p-values, corrected
with Holm's method within each measure.
"""

from __future__ import annotations

from itertools import combinations
from typing import Any

import numpy as np
import pandas as pd
from statsmodels.stats.multitest import multipletests

from trustlab.studies.analysis.measures import CONTRAST_MEASURES, MEASURES
from trustlab.studies.config import NO_EXPLANATION

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
