"""The analysis recovers a planted effect and does not invent one (simulated raters, 30 of them)."""

from __future__ import annotations

import pytest

from tests.helpers.study_builders import make_study, simulate_in_db
from trustlab.studies.analysis import analyze_study

PLANTED = 0.20


def profile(boost: float) -> dict:
    # Equal base accuracy on right and wrong predictions, so the boost is exactly the planted difference
    # in verification accuracy whatever the mix of model errors.
    return {
        "verify_model_right": 0.6,
        "verify_model_wrong": 0.6,
        "careless_share": 0.0,
        "cant_tell_rate": 0.0,
        "rater_sd": 0.05,
        "item_sd": 0.05,
        "conditions": {"gradcam": {"model_right": boost, "model_wrong": boost}},
    }


def run(settings, tmp_path, boost):
    study = make_study(
        settings,
        classes=("square", "disc"),
        per_class={"train": 1, "test": 25},
        items={"split": "test", "n": 40, "model_errors": 0.3},
        conditions=["none", "gradcam"],
        raters_per_item=30,
        items_per_rater=40,
        tasks=["verify", "trust"],
    )
    assert simulate_in_db(settings, study=study, n_raters=30, profile=profile(boost), seed=1) == 1200
    summary = analyze_study(settings, study.name, tmp_path / "out", replicates=1000)
    [contrast] = [
        c
        for c in summary["contrasts"]
        if c["measure"] == "verification_accuracy" and (c["a"], c["b"]) == ("gradcam", "none")
    ]
    return summary, contrast


def test_planted_effect_is_recovered(sqlite_settings, tmp_path):
    summary, contrast = run(sqlite_settings, tmp_path, PLANTED)
    assert contrast["ci_low"] > 0, contrast
    assert contrast["diff"] == pytest.approx(PLANTED, abs=0.05)
    assert contrast["p_holm"] < 0.01
    none, gradcam = summary["conditions"]["none"], summary["conditions"]["gradcam"]
    assert none["verification_accuracy"]["mean"] == pytest.approx(0.6, abs=0.05)
    assert gradcam["verification_accuracy"]["mean"] == pytest.approx(0.8, abs=0.05)
    assert none["n"] == gradcam["n"] == 600
    # The mixed model sees the same effect: a positive gradcam coefficient whose interval excludes 0.
    [coef] = [c for c in summary["mixed_model"]["coefficients"] if c["term"] == "gradcam"]
    assert coef["ci_low"] > 0
    # Per-rater accuracy is above chance in both conditions.
    assert gradcam["per_rater"]["verification_accuracy"]["p"] < 0.001
    assert (tmp_path / "out" / "report.html").stat().st_size > 10_000
    # The primary (default: gradcam vs none on verification accuracy) leads, named with its method.
    assert "two-way cluster-robust" in summary["inference"]["method"]
    [primary] = summary["primary"]["contrasts"]
    assert primary["significant"] and primary["ci_low_adj"] > 0
    assert summary["mixed_model"]["role"] == "exploratory" and "priors" in summary["mixed_model"]
    assert gradcam["criterion_c"]["mean"] is not None and set(summary["flow"]) == {"none", "gradcam"}
    page = (tmp_path / "out" / "report.html").read_text()
    assert "Primary result (confirmatory)" in page and "Participant flow" in page


def test_no_planted_effect_ci_covers_zero(sqlite_settings, tmp_path):
    _, contrast = run(sqlite_settings, tmp_path, 0.0)
    assert contrast["ci_low"] < 0 < contrast["ci_high"], contrast
    assert abs(contrast["diff"]) < 0.05
