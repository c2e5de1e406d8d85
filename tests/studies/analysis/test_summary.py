"""summarize and the report on a synthetic study (no database): the summary.json keys a reviewer
reads, the participant flow, the confirmatory family, agreement per condition and the report text."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from tests.helpers.synthetic_studies import CONDITIONS, study_data
from trustlab.studies.analysis.analyze import _jsonable, summarize
from trustlab.studies.analysis.confirmatory import holm_levels
from trustlab.studies.analysis.estimators import ESTIMATORS
from trustlab.studies.analysis.flow import flow, learning_check
from trustlab.studies.analysis.inference import adjusted_interval
from trustlab.studies.analysis.outcomes import validate_judgements
from trustlab.studies.analysis.report.document import render_report
from trustlab.studies.analysis.synthetic import SyntheticStudy, simulate_judgements
from trustlab.studies.config.study import PRIMARY_MEASURES


def assignments_for(df: pd.DataFrame) -> pd.DataFrame:
    out = df[["rater_id", "condition"]].assign(status="done", is_gold=False)
    out.loc[out["rater_id"] == 1, "status"] = "released"  # rater 1 timed out on some
    out.loc[(out["rater_id"] == 2) & (out.index % 2 == 0), "status"] = "assigned"
    extra = pd.DataFrame(
        {"rater_id": [99] * 3, "condition": CONDITIONS, "status": "assigned", "is_gold": False}
    )
    return pd.concat([out, extra], ignore_index=True)


def test_summary_keys_primary_and_report():
    base = study_data(
        {"primary": "verification_accuracy", "contrasts": [["gradcam", "none"], ["twin", "none"]]}
    )
    recorded = {"preregistered": True, "statement": "pre-registered: the study config's analysis: block"}
    data = study_data(
        {"primary": "verification_accuracy", "contrasts": [["gradcam", "none"], ["twin", "none"]]},
        assignments=assignments_for(base.judgements),
        preregistration=recorded,
    )
    result = summarize(data, replicates=100)
    summary = json.loads(json.dumps(_jsonable(result.summary)))
    assert result.frame is not None and "_frame" not in result.summary
    assert "two-way cluster-robust" in summary["inference"]["method"]
    for condition in CONDITIONS:
        entry = summary["conditions"][condition]
        for measure in ("verification_accuracy", "criterion_c", "ai_alone_accuracy", "cant_tell_rate"):
            assert set(entry[measure]) >= {"mean", "ci_low", "ci_high"}, measure
        assert entry["ai_alone_accuracy"]["mean"] == pytest.approx(0.7, abs=0.05)
        assert 0 < entry["cant_tell_rate"]["mean"] < 0.15
    keys = {"a", "b", "measure", "diff", "ci_low", "ci_high", "p", "p_holm", "role"}
    assert all(keys <= set(row) for row in summary["contrasts"])
    primary = summary["primary"]
    assert primary["preregistered"] and primary["measure"] == "verification_accuracy"
    assert [(r["a"], r["b"]) for r in primary["contrasts"]] == [("gradcam", "none"), ("twin", "none")]
    confirmatory = [r for r in summary["contrasts"] if r["role"] == "confirmatory"]
    assert len(confirmatory) == 2
    assert {(r["a"], r["b"]): r["p_holm"] for r in confirmatory} == {
        (r["a"], r["b"]): r["p_holm"] for r in primary["contrasts"]
    }
    # The exploratory twin-gradcam pair of the primary measure is its own family, not in the primary.
    assert any(
        r["role"] == "exploratory" and r["measure"] == "verification_accuracy" for r in summary["contrasts"]
    )
    gradcam = primary["contrasts"][0]
    assert gradcam["significant"] and gradcam["ci_low_adj"] > 0 and gradcam["diff"] > 0.08
    flow_none = summary["flow"]["none"]
    assert flow_none["invited"] == 19 and flow_none["started"] == 18 and flow_none["timed_out"] == 1
    assert flow_none["completed"] == 16 and flow_none["cant_tell"] > 0
    assert summary["agreement"]["true_label"]["fleiss_kappa"]["value"] is None  # stable keys kept
    verify = summary["agreement"]["by_condition"]["none"]["verify"]
    assert verify["ci_low"] <= verify["value"] <= verify["ci_high"]
    assert summary["mixed_model"]["role"] == "exploratory" and "priors" in summary["mixed_model"]
    assert summary["items"][0]["difficulty"] >= summary["items"][-1]["difficulty"]
    page = render_report(summary, result.frame)
    for text in (
        "Primary result (confirmatory)",
        "pre-registered: the study config&#x27;s analysis: block",
        "Participant flow",
        "two-way cluster-robust",
        "exploratory",
    ):
        assert text in page, text


def test_default_primary_is_each_condition_against_none_and_not_preregistered():
    summary = summarize(study_data(), replicates=20).summary
    assert not summary["primary"]["preregistered"]
    assert summary["primary"]["preregistration"]["statement"].startswith("not pre-registered")
    assert [(r["a"], r["b"]) for r in summary["primary"]["contrasts"]] == [
        ("gradcam", "none"),
        ("twin", "none"),
    ]
    assert summary["flow"]["none"]["invited"] is None  # no assignments loaded


def test_holm_consistent_intervals_agree_with_p_holm():
    rng = np.random.default_rng(0)
    for _ in range(200):
        p = rng.uniform(0, 0.1, size=int(rng.integers(1, 6)))
        levels = holm_levels(list(p), 0.05)
        from trustlab.studies.analysis.inference import holm

        adjusted = holm(p)
        for p_k, level, p_holm in zip(p, levels, adjusted, strict=True):
            assert (p_k < level) == (p_holm < 0.05)
    row = {"diff": 0.1, "se": 0.05, "df": 1e6}
    low, high = adjusted_interval(row, 0.95)
    assert low == pytest.approx(0.1 - 1.959964 * 0.05, abs=1e-5)


def test_flow_from_hand_made_assignments():
    assignments = pd.DataFrame(
        {
            "rater_id": [1, 1, 2, 2, 3, 3, 4],
            "condition": ["none", "none", "none", "none", "twin", "twin", "twin"],
            "status": ["done", "done", "done", "released", "done", "done", "assigned"],
            "is_gold": [False, False, False, False, False, True, False],
        }
    )
    judgements = pd.DataFrame(
        {
            "rater_id": [1, 1, 2, 3, 3],
            "condition": ["none", "none", "none", "twin", "twin"],
            "is_gold": [False, False, False, False, True],
            "cant_tell": [False, True, False, False, False],
        }
    )
    out = flow(assignments, judgements, [{"rater_id": 3}])
    assert out["none"] == {
        "invited": 2,
        "started": 2,
        "completed": 1,
        "timed_out": 1,
        "excluded": {"n": 0, "reasons": {}},
        "analysed": 2,
        "judgements": 3,
        "cant_tell": 1,
        "cant_tell_rate": pytest.approx(1 / 3),
    }
    assert out["twin"]["invited"] == 2 and out["twin"]["started"] == 1 and out["twin"]["completed"] == 1
    assert out["twin"]["excluded"]["n"] == 1 and out["twin"]["analysed"] == 0
    with pytest.raises(ValueError, match="status"):
        flow(assignments.assign(status="lost"), judgements, [])


def test_learning_check_finds_a_planted_second_half_gain():
    spec = SyntheticStudy(n_raters=30, n_items=40, conditions=("none", "gradcam"))
    df = validate_judgements(simulate_judgements(spec, np.random.default_rng(1)))
    late = df["position"] >= 20
    flip = late & (df["verify_correct"] == 0) & (np.random.default_rng(2).random(len(df)) < 0.6)
    df.loc[flip, "verify_correct"] = 1.0
    out = learning_check(df, ["none", "gradcam"])
    for condition in ("none", "gradcam"):
        assert out["per_condition"][condition]["ci_low"] > 0
    [interaction] = out["interaction"]
    assert interaction["ci_low"] < 0 < interaction["ci_high"]


def test_config_primary_measures_are_analysis_measures():
    assert set(PRIMARY_MEASURES) <= set(ESTIMATORS)
