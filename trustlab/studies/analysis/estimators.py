"""The study's measures as linearised estimators: a point estimate and each judgement's influence.

Every measure of a judgement table (rows of one condition, validated by ``validate_judgements``) is
returned as ``Linearized(value, psi)``: ``psi`` has one entry per row, and ``value - truth`` is, to first
order, ``psi.sum()``. ``inference.py`` sums ``psi`` within raters, within items and within
rater x item cells to get a two-way cluster-robust variance (Cameron, Gelbach & Miller 2011).

Two kinds of measure:
- pooled ratios (a share of judgements): ``psi_i = m_i (y_i - value) / sum(m)``;
- per-rater statistics averaged over raters (d', criterion c, AUROCs), which are not biased toward 0 when
  raters' criteria differ: ``value = mean_r s_r`` and ``psi_i = ((s_r - value) / n_r + phi_i) / R``, where
  ``phi_i`` is row i's influence on its rater's own statistic (delta method) and the rater's deviation
  is spread over the rater's n_r rows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import norm

# Log-linear correction (Hautus 1995), per rater: add 0.5 to the hit and false-alarm counts and 1 to
# their totals, so d' and c are finite when a rater's rate is 0 or 1.
LOGLINEAR = 0.5


@dataclass(frozen=True)
class Linearized:
    """A point estimate, the influence of each row of the table it was computed on (shape (n,)) and
    each row's weight in the estimate (shape (n,), sums to 1; the leverage of a cluster is its rows'
    total weight, used by the CR2 small-sample correction)."""

    value: float
    psi: np.ndarray
    weight: np.ndarray


def ratio_mean(values: np.ndarray, mask: np.ndarray) -> Linearized | None:
    """Mean of ``values`` over rows where ``mask`` holds and the value is not NaN; None when none."""
    used = mask & ~np.isnan(values)
    total = used.sum()
    if total == 0:
        return None
    y = np.where(used, values, 0.0)
    value = float(y.sum() / total)
    return Linearized(value, np.where(used, (y - value) / total, 0.0), used / total)


def _rater_codes(df: pd.DataFrame) -> tuple[np.ndarray, int]:
    codes, uniques = pd.factorize(df["rater_id"])
    return codes, len(uniques)


def over_raters(
    df: pd.DataFrame, stat: np.ndarray, phi: np.ndarray, defined: np.ndarray
) -> Linearized | None:
    """Average per-rater statistics ``stat`` (shape (R,), NaN where undefined) whose row influences on
    their own rater's statistic are ``phi`` (shape (n,)); ``defined`` (R,) marks raters that count."""
    codes, n_raters = _rater_codes(df)
    if not defined.any():
        return None
    value = float(stat[defined].mean())
    rows_per_rater = np.bincount(codes, minlength=n_raters).astype(float)
    counted = defined[codes]
    spread = np.where(counted, (np.nan_to_num(stat)[codes] - value) / rows_per_rater[codes], 0.0)
    # The rater's whole deviation is in ``spread``; centre phi within the rater so that it only moves
    # influence between the rater's items (with the log-linear pseudo-counts it need not sum to 0).
    phi = phi - (np.bincount(codes, phi, n_raters) / rows_per_rater)[codes]
    psi = np.where(counted, spread + phi, 0.0) / defined.sum()
    weight = np.where(counted, 1.0 / rows_per_rater[codes], 0.0) / defined.sum()
    return Linearized(value, psi, weight)


def _signal_detection(df: pd.DataFrame, which: str) -> Linearized | None:
    """Per-rater d' or criterion c of detecting model errors (signal = the model is wrong, "yes" = the
    rater rejects the prediction), log-linear corrected per rater, averaged over raters."""
    codes, n_raters = _rater_codes(df)
    accept = df["accept"].to_numpy(float)
    answered = ~np.isnan(accept)
    wrong = answered & ~df["model_correct"].to_numpy(bool)
    right = answered & df["model_correct"].to_numpy(bool)
    reject = np.where(answered, 1.0 - np.nan_to_num(accept), 0.0)
    n_wrong = np.bincount(codes, wrong.astype(float), n_raters)
    n_right = np.bincount(codes, right.astype(float), n_raters)
    hit = (np.bincount(codes, reject * wrong, n_raters) + LOGLINEAR) / (n_wrong + 2 * LOGLINEAR)
    fa = (np.bincount(codes, reject * right, n_raters) + LOGLINEAR) / (n_right + 2 * LOGLINEAR)
    defined = (n_wrong > 0) & (n_right > 0)
    z_hit, z_fa = norm.ppf(hit), norm.ppf(fa)
    # d(rate)/d(row) for rate = (sum x + 0.5) / (n + 1), then through the probit.
    dz_hit = np.where(wrong, (reject - hit[codes]) / ((n_wrong[codes] + 1) * norm.pdf(z_hit[codes])), 0.0)
    dz_fa = np.where(right, (reject - fa[codes]) / ((n_right[codes] + 1) * norm.pdf(z_fa[codes])), 0.0)
    if which == "dprime":
        stat, phi = z_hit - z_fa, dz_hit - dz_fa
    else:
        stat, phi = -(z_hit + z_fa) / 2, -(dz_hit + dz_fa) / 2
    return over_raters(df, np.where(defined, stat, np.nan), phi, defined)


def _auroc_over_raters(df: pd.DataFrame, score_col: str, positive: np.ndarray) -> Linearized | None:
    """Per-rater AUROC of ``score_col`` for ``positive`` (ties count half; DeLong placement values as
    the within-rater influence), averaged over raters with both classes scored."""
    codes, n_raters = _rater_codes(df)
    scores = pd.to_numeric(df[score_col], errors="coerce").to_numpy(float) if score_col in df else None
    if scores is None:
        return None
    stat = np.full(n_raters, np.nan)
    phi = np.zeros(len(df))
    for r in range(n_raters):
        rows = np.flatnonzero((codes == r) & ~np.isnan(scores) & ~np.isnan(positive))
        pos, neg = rows[positive[rows] == 1], rows[positive[rows] == 0]
        if len(pos) == 0 or len(neg) == 0:
            continue
        diff = scores[pos][:, None] - scores[neg][None, :]
        kernel = (diff > 0) + 0.5 * (diff == 0)
        area = float(kernel.mean())
        stat[r] = area
        phi[pos] = (kernel.mean(axis=1) - area) / len(pos)
        phi[neg] = (kernel.mean(axis=0) - area) / len(neg)
    return over_raters(df, stat, phi, ~np.isnan(stat))


def _balanced_accuracy(df: pd.DataFrame) -> Linearized | None:
    """Mean of the acceptance rate on right predictions and the rejection rate on wrong ones."""
    accept = df["accept"].to_numpy(float)
    right = df["model_correct"].to_numpy(bool)
    hits, rejections = ratio_mean(accept, right), ratio_mean(1.0 - accept, ~right)
    if hits is None or rejections is None:
        return None
    return Linearized(
        (hits.value + rejections.value) / 2,
        (hits.psi + rejections.psi) / 2,
        (hits.weight + rejections.weight) / 2,
    )


@dataclass(frozen=True)
class Estimator:
    """A named measure: ``compute(df) -> Linearized | None`` (None: undefined, see ``why_empty``)."""

    name: str
    description: str
    compute: Callable[[pd.DataFrame], Linearized | None]
    why_empty: str

    @property
    def bounds(self) -> tuple[float, float] | None:
        """The range the measure can take (shares and AUROCs: [0, 1]); None when unbounded or set by
        the study (d', c, Likert means). Intervals are clipped to it."""
        return (0.0, 1.0) if self.name in UNIT_INTERVAL_MEASURES else None


def _mean_of(column: str, subset: str | None = None) -> Callable[[pd.DataFrame], Linearized | None]:
    def compute(df: pd.DataFrame) -> Linearized | None:
        if column not in df:
            return None
        values = pd.to_numeric(df[column], errors="coerce").to_numpy(float)
        mask = np.ones(len(df), bool)
        if subset is not None:
            right = df["model_correct"].to_numpy(bool)
            mask = right if subset == "right" else ~right
        return ratio_mean(values, mask)

    return compute


def _ai_alone(df: pd.DataFrame) -> Linearized | None:
    answered = ~np.isnan(df["accept"].to_numpy(float))
    return ratio_mean(df["model_correct"].to_numpy(float), answered)


def _cant_tell(df: pd.DataFrame) -> Linearized | None:
    return ratio_mean(df["cant_tell"].fillna(False).astype(float).to_numpy(), np.ones(len(df), bool))


def _trust_auroc(df: pd.DataFrame) -> Linearized | None:
    return _auroc_over_raters(df, "trust_value", df["model_correct"].to_numpy(float))


def _confidence_auroc(df: pd.DataFrame) -> Linearized | None:
    return _auroc_over_raters(df, "rater_confidence", df["verify_correct"].to_numpy(float))


_ESTIMATORS = (
    Estimator(
        "verification_accuracy",
        "share of verdicts (is the prediction correct?) that are right",
        _mean_of("verify_correct"),
        "no verify answers (is `verify` among the tasks?)",
    ),
    Estimator(
        "ai_alone_accuracy",
        "baseline: accuracy of always accepting the prediction (1 - the model's error rate on the "
        "same judgements)",
        _ai_alone,
        "no verify answers",
    ),
    Estimator(
        "balanced_accuracy",
        "mean of accepting right and rejecting wrong predictions (0.5 = no discrimination)",
        _balanced_accuracy,
        "verify answers on both right and wrong predictions are needed",
    ),
    Estimator(
        "accept_rate_model_right",
        "share of right predictions the raters accepted",
        _mean_of("accept", "right"),
        "no verify answers on items the model gets right",
    ),
    Estimator(
        "accept_rate_model_wrong",
        "share of wrong predictions the raters accepted (over-reliance)",
        _mean_of("accept", "wrong"),
        "no verify answers on items the model gets wrong (no model errors?)",
    ),
    Estimator(
        "error_detection_dprime",
        "d' of detecting model errors, per rater (log-linear correction), averaged over raters",
        lambda df: _signal_detection(df, "dprime"),
        "verify answers on both right and wrong predictions are needed",
    ),
    Estimator(
        "criterion_c",
        "criterion c per rater, averaged over raters (> 0: inclined to accept, i.e. over-reliance)",
        lambda df: _signal_detection(df, "criterion"),
        "verify answers on both right and wrong predictions are needed",
    ),
    Estimator("mean_trust", "mean trust rating", _mean_of("trust_value"), "no trust ratings"),
    Estimator(
        "trust_model_right",
        "mean trust rating when the model is right",
        _mean_of("trust_value", "right"),
        "no trust ratings on items the model gets right",
    ),
    Estimator(
        "trust_model_wrong",
        "mean trust rating when the model is wrong",
        _mean_of("trust_value", "wrong"),
        "no trust ratings on items the model gets wrong (no model errors?)",
    ),
    Estimator(
        "trust_auroc",
        "AUROC of trust for the model being right, per rater, averaged over raters (0.5 = uninformative)",
        _trust_auroc,
        "trust ratings on both right and wrong predictions are needed",
    ),
    Estimator(
        "confidence_auroc",
        "type-2 AUROC: rater confidence for the rater's own verdict being right, per rater, averaged",
        _confidence_auroc,
        "confidence ratings on both right and wrong verdicts are needed",
    ),
    Estimator(
        "simulation_accuracy",
        "share of answers naming the class the model predicted",
        _mean_of("sim_correct"),
        "no simulate answers (is `simulate` among the tasks?)",
    ),
    Estimator(
        "true_label_accuracy",
        "share of answers naming the item's label (as frozen at `study create`)",
        _mean_of("label_correct"),
        "no true_label answers (is `true_label` among the tasks?)",
    ),
    Estimator(
        "cant_tell_rate",
        'share of judgements answered "can\'t tell" (left out of the other measures)',
        _cant_tell,
        "no judgements",
    ),
)
ESTIMATORS: dict[str, Estimator] = {e.name: e for e in _ESTIMATORS}
# Shares, accuracies and AUROCs: their values, and so their intervals, lie in [0, 1].
UNIT_INTERVAL_MEASURES = frozenset(
    {
        "verification_accuracy", "ai_alone_accuracy", "balanced_accuracy", "accept_rate_model_right",
        "accept_rate_model_wrong", "trust_auroc", "confidence_auroc", "simulation_accuracy",
        "true_label_accuracy", "cant_tell_rate",
    }
)
# Measures compared between conditions. The AI-alone baseline differs between conditions only by which
# items each condition happened to get, so it is reported per condition but not contrasted.
CONTRAST_ESTIMATORS: tuple[str, ...] = tuple(n for n in ESTIMATORS if n != "ai_alone_accuracy")
