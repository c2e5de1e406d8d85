"""The primary inference is calibrated: simulated null studies (no database) cover the true contrast
(0) at about the nominal 95%, across raters, items, rater and item SDs, base rates and designs; and a
+10-point effect is detected often enough (power)."""

from __future__ import annotations

import time

import numpy as np
import pytest

from trustlab.studies.analysis.inference import contrast, contrasts
from trustlab.studies.analysis.outcomes import validate_judgements
from trustlab.studies.analysis.synthetic import SyntheticStudy, simulate_judgements

CALIBRATED = ("verification_accuracy", "accept_rate_model_wrong", "mean_trust", "error_detection_dprime")
COVERAGE_RANGE = (0.92, 0.98)


def random_spec(rng: np.random.Generator, index: int) -> SyntheticStudy:
    return SyntheticStudy(
        n_raters=int(rng.integers(15, 41)),
        n_items=int(rng.integers(30, 81)),
        design=("within", "between")[index % 2],
        rater_sd=float(rng.uniform(0.0, 0.10)),
        item_sd=float(rng.uniform(0.0, 0.20)),
        model_accuracy=float(rng.uniform(0.6, 0.8)),
        verify_accuracy=float(rng.uniform(0.6, 0.85)),
    )


def coverage(n_studies: int, seed: int) -> dict[str, float]:
    rng = np.random.default_rng(seed)
    covered = {m: [] for m in CALIBRATED}
    for index in range(n_studies):
        df = validate_judgements(simulate_judgements(random_spec(rng, index), rng))
        for measure in CALIBRATED:
            row = contrast(df, "gradcam", "none", measure)
            covered[measure].append(row["ci_low"] <= 0 <= row["ci_high"])
    return {m: float(np.mean(v)) for m, v in covered.items()}


def test_null_coverage_is_nominal():
    start = time.perf_counter()
    result = coverage(400, seed=12)
    assert time.perf_counter() - start < 60
    for measure, share in result.items():
        assert COVERAGE_RANGE[0] <= share <= COVERAGE_RANGE[1], (measure, result)


@pytest.mark.slow
def test_null_coverage_large_sweep():
    result = coverage(2000, seed=1234)
    for measure, share in result.items():
        assert COVERAGE_RANGE[0] <= share <= COVERAGE_RANGE[1], (measure, result)


def test_power_ten_points_thirty_raters_forty_items():
    rng = np.random.default_rng(7)
    spec = SyntheticStudy(n_raters=30, n_items=40, effect={"gradcam": 0.10})
    detected = []
    for _ in range(100):
        df = validate_judgements(simulate_judgements(spec, rng))
        [row] = contrasts(df, ["none", "gradcam"], measures=["verification_accuracy"])
        detected.append(row["p_holm"] < 0.05 and row["diff"] > 0)
    assert np.mean(detected) >= 0.70, np.mean(detected)
