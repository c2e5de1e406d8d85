"""Intervals and p-values for measures and contrasts under crossed rater and item effects.

The primary method: each measure's influence function (``estimators.py``) summed within clusters gives
the two-way cluster-robust variance of Cameron, Gelbach & Miller (2011),

    V = V_rater + V_item - V_rater∩item,   V_g = sum over clusters g of (sum of psi in g)^2,

each term with the CR2 small-sample correction of Bell & McCaffrey (2002) (a cluster's influence is
scaled by (1 - its leverage)^-1/2, its leverage being its share of the estimate's weight; with
singleton clusters this is HC2, i.e. Welch's variance for a difference of means). The t reference
distribution has Welch-Satterthwaite degrees of freedom for V_rater + V_item - V_rater∩item, each term
taken as chi-square with (clusters - 1) df, capped at min(raters, items) - 1: with 15-40 raters the
normal 1.96 under-covers (RECIPES.md measured 0.895), and within-subject contrasts, where rater and item
effects cancel, have about half the one-way df. Clusters are counted among judgements that carry
influence (a measure on model errors has as many item clusters as wrong predictions). When the
intersection term makes V non-positive, V_rater + V_item is used instead (conservative) and the result
says so. ``tests/studies/test_inference_calibration.py`` measures the coverage (0.96-0.97 over 400
simulated null studies). CR1 (G/(G-1) * (N-1)/(N-k), statsmodels' two-way cluster OLS) is available
for comparison. Closed form, no resampling: a study's full analysis takes milliseconds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import combinations
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import t as student_t

from trustlab.studies.analysis.estimators import CONTRAST_ESTIMATORS, ESTIMATORS
from trustlab.studies.config.study import NO_EXPLANATION

CI_LEVEL = 0.95
METHOD = (
    "two-way cluster-robust variance (raters and items crossed; Cameron, Gelbach & Miller 2011) of "
    "each measure's influence function (delta method for d', c and AUROC), CR2 small-sample "
    "correction, t interval and p-value with Satterthwaite degrees of freedom (at most "
    "min(raters, items) - 1)"
)
# A cluster that holds (almost) all of an estimate's weight would get an infinite CR2 factor.
MAX_LEVERAGE = 0.9
FALLBACK = "V_rater + V_item (the rater x item term made the two-way variance non-positive)"


@dataclass(frozen=True)
class Variance:
    """Two-way cluster-robust variance of a sum of influences, its df and the cluster counts."""

    value: float
    df: float
    g_rater: int
    g_item: int
    fallback: bool = False


def _one_way(
    psi: np.ndarray, codes: np.ndarray, leverage_of_row: np.ndarray | None, n: int, k_params: int
) -> tuple[float, int]:
    # Clusters that carry influence: a measure on model errors only has as many item clusters as there
    # are wrong predictions, not as many as the study has items.
    groups = int(np.count_nonzero(np.bincount(codes, psi != 0)))
    if groups < 2:
        return float("nan"), groups
    if leverage_of_row is None:  # CR1: statsmodels' factor
        factor = groups / (groups - 1) * (n - 1) / max(n - k_params, 1)
        return float(factor * np.sum(np.bincount(codes, psi) ** 2)), groups
    # CR2 (Bell & McCaffrey 2002): each cluster's residuals scaled by (1 - leverage)^-1/2.
    scaled = psi / np.sqrt(1.0 - np.minimum(leverage_of_row, MAX_LEVERAGE))
    return float(np.sum(np.bincount(codes, scaled) ** 2)), groups


def _leverage(codes: np.ndarray, weight: np.ndarray, part: np.ndarray) -> np.ndarray:
    """Each row's cluster share of the weight of the estimate (``part``) the row belongs to."""
    key = codes * (part.max() + 1) + part
    return np.bincount(key, weight)[key]


def two_way_variance(
    psi: np.ndarray,
    rater: np.ndarray,
    item: np.ndarray,
    *,
    weight: np.ndarray | None = None,
    part: np.ndarray | None = None,
    k_params: int = 1,
) -> Variance:
    """V_rater + V_item - V_rater∩item of ``psi.sum()``.

    Parameters
    ----------
    psi: (n,) influence of each judgement (rows outside the estimate carry 0).
    rater, item: (n,) cluster labels of each judgement (any hashable values).
    weight: (n,) each row's weight in its estimate (``Linearized.weight``): given, the CR2 correction is
        used; None gives CR1 with G/(G-1) * (N-1)/(N-k), which equals statsmodels' two-way cluster OLS.
    part: (n,) which estimate a row belongs to (0 for a, 1 for b in a contrast); default all 0.
    k_params: parameters in the equivalent regression (CR1 only).
    """
    psi = np.asarray(psi, float)
    n = len(psi)
    part = np.zeros(n, int) if part is None else np.asarray(part, int)
    rater_codes, _ = pd.factorize(pd.Series(rater))
    item_codes, items = pd.factorize(pd.Series(item))
    cell_codes, _ = pd.factorize(pd.Series(rater_codes * len(items) + item_codes))
    terms = []
    for codes in (rater_codes, item_codes, cell_codes):
        leverage = None if weight is None else _leverage(codes, np.asarray(weight, float), part)
        terms.append(_one_way(psi, codes, leverage, n, k_params))
    (v_rater, g_rater), (v_item, g_item), (v_cell, g_cell) = terms
    v_cell = 0.0 if np.isnan(v_cell) else v_cell
    value = v_rater + v_item - v_cell
    fallback = not (np.isfinite(value) and value > 0)
    if fallback:
        value, v_cell = v_rater + v_item, 0.0
    return Variance(value, _satterthwaite(value, terms, v_cell), g_rater, g_item, fallback)


def _satterthwaite(value: float, terms: list[tuple[float, int]], v_cell: float) -> float:
    """Welch-Satterthwaite df of V_rater + V_item - V_cell, each term treated as chi-square with
    (clusters - 1) df; at most min(raters, items) - 1. Within-subject contrasts, where rater and item
    effects cancel, have all three terms of similar size and so about half the one-way df."""
    (v_rater, g_rater), (v_item, g_item), (_, g_cell) = terms
    bound = max(min(g_rater, g_item) - 1, 1)
    pieces = [(v_rater, g_rater), (v_item, g_item), (v_cell, g_cell)]
    spread = sum(v**2 / (g - 1) for v, g in pieces if g > 1 and np.isfinite(v))
    if not np.isfinite(value) or value <= 0 or spread <= 0:
        return bound
    return float(min(max(value**2 / spread, 1.0), bound))


def _none(value: float | None) -> float | None:
    return None if value is None or not np.isfinite(value) else float(value)


def clip(low: float | None, high: float | None, bounds: tuple[float, float] | None):
    """An interval cut to the range its quantity can take (a share's interval stays in [0, 1]; a
    difference of shares in [-1, 1]). Cutting never loses coverage: the true value is in range."""
    if bounds is None:
        return low, high
    lo, hi = bounds
    return (None if low is None else max(low, lo)), (None if high is None else min(high, hi))


def difference_bounds(measure: str) -> tuple[float, float] | None:
    """The range of a difference of ``measure`` between two conditions."""
    bounds = ESTIMATORS[measure].bounds
    return None if bounds is None else (bounds[0] - bounds[1], bounds[1] - bounds[0])


def t_interval(
    value: float, variance: Variance, bounds: tuple[float, float] | None = None
) -> dict[str, Any]:
    """{ci_low, ci_high, se, df, p} of ``value`` (p: two-sided, against 0) from its variance; the
    interval is cut to ``bounds`` when given."""
    se = float(np.sqrt(variance.value)) if np.isfinite(variance.value) and variance.value > 0 else np.nan
    crit = float(student_t.ppf(0.5 + CI_LEVEL / 2, variance.df))
    p = float(2 * student_t.sf(abs(value) / se, variance.df)) if np.isfinite(se) else np.nan
    low, high = clip(_none(value - crit * se), _none(value + crit * se), bounds)
    out = {
        "ci_low": low,
        "ci_high": high,
        "se": _none(se),
        "df": variance.df,
        "p": _none(p),
    }
    if variance.fallback:
        out["variance"] = FALLBACK
    return out


def estimate(df: pd.DataFrame, measure: str) -> dict[str, Any]:
    """{mean, ci_low, ci_high, se, df} of a measure on ``df`` (validated rows of one condition), or
    {mean: None, ..., reason} when it is undefined there."""
    spec = ESTIMATORS[measure]
    fit = spec.compute(df) if len(df) else None
    if fit is None or not np.isfinite(fit.value):
        reason = spec.why_empty if len(df) else "no judgements in this condition"
        return {"mean": None, "ci_low": None, "ci_high": None, "reason": reason}
    variance = two_way_variance(
        fit.psi, df["rater_id"].to_numpy(), df["item_id"].to_numpy(), weight=fit.weight
    )
    interval = t_interval(fit.value, variance, spec.bounds)
    interval.pop("p")
    return {"mean": fit.value, **interval}


def combination(
    df: pd.DataFrame, parts: Sequence[tuple[np.ndarray, float]], measure: str
) -> dict[str, Any] | None:
    """sum_k coef_k * measure(df[mask_k]) with its interval and (unadjusted) p; None when the measure
    is undefined in a part. Masks must not overlap. A rater or item seen in several parts is one
    cluster, so within-subject pairing is accounted for."""
    spec = ESTIMATORS[measure]
    rows = np.zeros(len(df), bool)
    for mask, _ in parts:
        rows |= mask
    sub = df[rows]
    psi, weight, part_of = np.zeros(len(sub)), np.zeros(len(sub)), np.zeros(len(sub), int)
    value = 0.0
    for index, (mask, coef) in enumerate(parts):
        in_part = mask[rows]
        fit = spec.compute(sub[in_part]) if in_part.any() else None
        if fit is None or not np.isfinite(fit.value):
            return None
        value += coef * fit.value
        psi[in_part], weight[in_part], part_of[in_part] = coef * fit.psi, fit.weight, index
    variance = two_way_variance(
        psi, sub["rater_id"].to_numpy(), sub["item_id"].to_numpy(), weight=weight, part=part_of
    )
    bounds = None
    if spec.bounds is not None:  # sum_k coef_k * m_k with every m_k in [lo, hi]
        lo, hi = spec.bounds
        bounds = (
            sum(min(c * lo, c * hi) for _, c in parts),
            sum(max(c * lo, c * hi) for _, c in parts),
        )
    return {"diff": value, **t_interval(value, variance, bounds)}


def contrast(df: pd.DataFrame, a: str, b: str, measure: str) -> dict[str, Any] | None:
    """measure(a) - measure(b) with its interval and (unadjusted) p; None when undefined in a or b.

    ``df`` holds validated judgements of (at least) conditions a and b.
    """
    condition = df["condition"].to_numpy()
    in_a, in_b = condition == a, condition == b
    result = combination(df, [(in_a, 1.0), (in_b, -1.0)], measure)
    if result is None:
        return None
    return {"a": a, "b": b, "measure": measure, **result, "n_a": int(in_a.sum()), "n_b": int(in_b.sum())}


def holm(p_values: Sequence[float]) -> np.ndarray:
    """Holm's step-down adjusted p-values (NaN stays NaN and is not counted in the family)."""
    p = np.asarray(p_values, float)
    out = np.full(len(p), np.nan)
    ok = np.flatnonzero(np.isfinite(p))
    order = ok[np.argsort(p[ok])]
    m = len(order)
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[index]))
        out[index] = running
    return out


def contrast_pairs(conditions: Sequence[str]) -> list[tuple[str, str]]:
    """Each condition against ``none`` (when present), then every pair of the other conditions."""
    others = [c for c in conditions if c != NO_EXPLANATION]
    pairs = [(c, NO_EXPLANATION) for c in others] if NO_EXPLANATION in conditions else []
    return pairs + list(combinations(others, 2))


def contrasts(
    df: pd.DataFrame,
    conditions: Sequence[str],
    *,
    pairs: Sequence[tuple[str, str]] | None = None,
    measures: Sequence[str] = CONTRAST_ESTIMATORS,
) -> list[dict[str, Any]]:
    """Every measure's contrasts between condition pairs, each with ``p_holm``: Holm-adjusted within
    the measure's family (its pairs). Rows: {a, b, measure, diff, ci_low, ci_high, se, df, p, p_holm,
    n_a, n_b}; a measure undefined in a or b is left out (its per-condition estimate has the reason)."""
    pairs = contrast_pairs(conditions) if pairs is None else list(pairs)
    out: list[dict[str, Any]] = []
    for measure in measures:
        family = [row for a, b in pairs if (row := contrast(df, a, b, measure)) is not None]
        adjusted = holm([np.nan if row["p"] is None else row["p"] for row in family])
        for row, p_holm in zip(family, adjusted, strict=True):
            row["p_holm"] = _none(p_holm)
        out.extend(family)
    return out


def adjusted_interval(row: dict[str, Any], level: float) -> tuple[float | None, float | None]:
    """The interval of a contrast at confidence ``level`` (e.g. 1 - alpha/m for a Bonferroni-type
    family-wise interval), from its se and df."""
    if row.get("se") is None:
        return None, None
    crit = float(student_t.ppf(0.5 + level / 2, row["df"]))
    low, high = _none(row["diff"] - crit * row["se"]), _none(row["diff"] + crit * row["se"])
    return clip(low, high, difference_bounds(row["measure"]) if row.get("measure") in ESTIMATORS else None)
