"""The exploratory mixed model on synthetic studies: it finds a planted effect and its rater and item
spread, names its priors, and says why it cannot fit a study that is too small."""

from __future__ import annotations

import numpy as np

from trustlab.studies.analysis.mixed import verification_model
from trustlab.studies.analysis.outcomes import validate_judgements
from trustlab.studies.analysis.synthetic import SyntheticStudy, simulate_judgements


def test_a_planted_effect_shows_as_a_positive_log_odds_with_both_random_effects():
    spec = SyntheticStudy(n_raters=30, n_items=40, verify_accuracy=0.65, rater_sd=0.05, item_sd=0.2,
                          effect={"gradcam": 0.2})
    df = validate_judgements(simulate_judgements(spec, np.random.default_rng(4)))
    fit = verification_model(df, ["none", "gradcam"])
    assert fit["reference"] == "none" and fit["role"] == "exploratory" and fit["n"] == 30 * 40
    gradcam = next(c for c in fit["coefficients"] if c["term"] == "gradcam")
    # +0.2 on P(right) around 0.65 is about +1 on the log-odds scale; the interval excludes 0.
    assert 0.5 < gradcam["log_odds"] < 1.6 and gradcam["ci_low"] > 0
    assert fit["item_sd"] > fit["rater_sd"]  # item spread was planted 4x larger
    assert "Normal(0, 2^2)" in fit["priors"]["fixed_effects"]


def test_too_small_a_study_is_refused_with_a_reason():
    spec = SyntheticStudy(n_raters=1, n_items=4)
    df = validate_judgements(simulate_judgements(spec, np.random.default_rng(0)))
    assert "error" in verification_model(df, ["none", "gradcam"])
