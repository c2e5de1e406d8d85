"""Known values for the pure inference functions: measures on tiny hand-made frames, the two-way
variance against statsmodels' two-way cluster OLS, CR2 against Welch, Holm against statsmodels."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf
from scipy.stats import norm
from statsmodels.stats.multitest import multipletests

from trustlab.studies.analysis.estimators import ESTIMATORS
from trustlab.studies.analysis.inference import contrast, estimate, holm, two_way_variance
from trustlab.studies.analysis.outcomes import validate_judgements
from trustlab.studies.analysis.synthetic import SyntheticStudy, simulate_judgements


def frame(rows: list[tuple]) -> pd.DataFrame:
    """rows: (rater_id, item_id, condition, model_correct, accept, trust, confidence)."""
    df = pd.DataFrame(
        rows, columns=["rater_id", "item_id", "condition", "model_correct", "accept", "trust", "conf"]
    )
    return validate_judgements(
        df.assign(
            predicted_label="a",
            true_label="a",
            answer_model_correct=[bool(a) if a is not None else None for a in df["accept"]],
            answer_true_label=None,
            answer_simulated_label=None,
            cant_tell=False,
            response_ms=1.0,
            rater_confidence=df["conf"],
        ).drop(columns=["accept"])
    )


# One rater: two wrong predictions (rejects one), two right ones (accepts both).
ONE_RATER = [
    (1, 1, "none", False, 0, 2, 4),
    (1, 2, "none", False, 1, 5, 2),
    (1, 3, "none", True, 1, 6, 5),
    (1, 4, "none", True, 1, 4, 3),
]


def test_measures_on_a_tiny_frame():
    df = frame(ONE_RATER)
    fits = {name: ESTIMATORS[name].compute(df) for name in ESTIMATORS}
    assert fits["simulation_accuracy"] is None and fits["true_label_accuracy"] is None  # not asked
    value = {name: fit.value for name, fit in fits.items() if fit is not None}
    assert value["verification_accuracy"] == pytest.approx(3 / 4)
    assert value["accept_rate_model_wrong"] == pytest.approx(1 / 2)
    assert value["accept_rate_model_right"] == pytest.approx(1.0)
    assert value["balanced_accuracy"] == pytest.approx((1.0 + 0.5) / 2)
    assert value["ai_alone_accuracy"] == pytest.approx(1 / 2)
    # Log-linear: hit rate (1 + .5) / (2 + 1) = .5, false-alarm rate (0 + .5) / 3.
    z_hit, z_fa = norm.ppf(0.5), norm.ppf(0.5 / 3)
    assert value["error_detection_dprime"] == pytest.approx(z_hit - z_fa)
    assert value["criterion_c"] == pytest.approx(-(z_hit + z_fa) / 2)
    assert value["mean_trust"] == pytest.approx(17 / 4)
    # Trust for "model right": right items 6, 4 vs wrong 2, 5 -> pairs (6>2, 6>5, 4>2, 4<5) = 3/4.
    assert value["trust_auroc"] == pytest.approx(3 / 4)
    # Confidence for own verdict right: right verdicts (items 1, 3, 4) 4, 5, 3 vs wrong (item 2) 2.
    assert value["confidence_auroc"] == pytest.approx(1.0)
    assert value["cant_tell_rate"] == 0.0
    for fit in (f for f in fits.values() if f is not None):
        assert fit.psi.sum() == pytest.approx(0.0, abs=1e-12)
        assert fit.weight.sum() == pytest.approx(1.0)


def test_per_rater_dprime_is_the_mean_over_raters():
    second = [(2, i, c, m, 1, t, f) for (_, i, c, m, _, t, f) in ONE_RATER]  # accepts everything
    df = frame(ONE_RATER + second)
    d_second = norm.ppf(0.5 / 3) - norm.ppf(0.5 / 3)
    d_first = norm.ppf(0.5) - norm.ppf(0.5 / 3)
    assert ESTIMATORS["error_detection_dprime"].compute(df).value == pytest.approx((d_first + d_second) / 2)


def test_undefined_measure_says_why():
    df = frame([r for r in ONE_RATER if r[3]])  # no model errors
    out = estimate(df, "accept_rate_model_wrong")
    assert out["mean"] is None and "model errors" in out["reason"]


def null_study(seed: int = 3) -> pd.DataFrame:
    spec = SyntheticStudy(n_raters=12, n_items=20, rater_sd=0.1, item_sd=0.15)
    return validate_judgements(simulate_judgements(spec, np.random.default_rng(seed)))


def test_cr1_two_way_variance_equals_statsmodels_two_way_cluster_ols():
    df = null_study()
    data = df.dropna(subset=["verify_correct"]).reset_index(drop=True)
    data["treated"] = (data["condition"] == "gradcam").astype(float)
    fit = smf.ols("verify_correct ~ treated", data).fit(
        cov_type="cluster", cov_kwds={"groups": np.column_stack([data["rater_id"], data["item_id"]])}
    )
    in_a = data["treated"].to_numpy() == 1
    y = data["verify_correct"].to_numpy()
    psi = np.where(in_a, (y - y[in_a].mean()) / in_a.sum(), -(y - y[~in_a].mean()) / (~in_a).sum())
    variance = two_way_variance(psi, data["rater_id"], data["item_id"], k_params=2)
    assert np.sqrt(variance.value) == pytest.approx(fit.bse["treated"], rel=1e-10)
    assert psi.sum() == pytest.approx(fit.params["treated"] - (y[in_a].mean() - y[~in_a].mean()), abs=1e-12)


def test_cr2_with_singleton_clusters_is_welch():
    rng = np.random.default_rng(0)
    a, b = rng.normal(0, 1, 9), rng.normal(0.3, 2, 14)
    y = np.concatenate([a, b])
    part = np.r_[np.zeros(9, int), np.ones(14, int)]
    psi = np.where(part == 0, (y - a.mean()) / 9, -(y - b.mean()) / 14)
    weight = np.where(part == 0, 1 / 9, 1 / 14)
    ids = np.arange(len(y))
    variance = two_way_variance(psi, ids, ids, weight=weight, part=part)
    assert variance.value == pytest.approx(a.var(ddof=1) / 9 + b.var(ddof=1) / 14)


def test_contrast_rows_and_pairing():
    df = null_study()
    row = contrast(df, "gradcam", "none", "verification_accuracy")
    va = df.groupby("condition")["verify_correct"].mean()
    assert row["diff"] == pytest.approx(va["gradcam"] - va["none"])
    assert row["ci_low"] < row["diff"] < row["ci_high"] and 0 < row["p"] <= 1
    assert row["n_a"] + row["n_b"] == len(df) and row["df"] >= 1
    assert contrast(df, "gradcam", "twin", "verification_accuracy") is None


def test_holm_matches_statsmodels():
    p = [0.01, 0.04, 0.03, np.nan, 0.2]
    expected = multipletests([0.01, 0.04, 0.03, 0.2], method="holm")[1]
    out = holm(p)
    assert np.isnan(out[3])
    np.testing.assert_allclose(out[[0, 1, 2, 4]], expected)


def test_intervals_of_shares_stay_in_their_range():
    """A tiny study (3 raters x 4 items) has few degrees of freedom: the t interval of a share near 1
    would reach past 1; it is cut to [0, 1], and a difference of shares to [-1, 1]."""
    from scipy.stats import t as student_t

    rows = [  # every verdict right except rater 0 on item 0 under "none"
        (r, i, cond, bool(i % 2), int(bool(i % 2)) ^ int(r == 0 and i == 0 and cond == "none"), 4, 4)
        for r in range(3)
        for i in range(4)
        for cond in ("none", "gradcam")
    ]
    df = frame(rows)
    est = estimate(df[df["condition"] == "none"], "verification_accuracy")
    assert est["mean"] == pytest.approx(11 / 12)
    assert est["mean"] + student_t.ppf(0.975, est["df"]) * est["se"] > 1  # the case the cut is for
    assert 0.0 <= est["ci_low"] <= est["mean"] <= est["ci_high"] == 1.0
    diff = contrast(df, "none", "gradcam", "verification_accuracy")
    assert -1.0 <= diff["ci_low"] <= diff["diff"] <= diff["ci_high"] <= 1.0
    assert ESTIMATORS["error_detection_dprime"].bounds is None
