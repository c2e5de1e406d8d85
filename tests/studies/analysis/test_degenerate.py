"""Empty and degenerate studies give clear notes and null-with-reason, never a crash."""

from __future__ import annotations

import json

from tests.helpers.study_builders import make_study, simulate_in_db
from trustlab.studies.analysis import analyze_study


def test_no_judgements(sqlite_settings, tmp_path):
    study = make_study(sqlite_settings)
    summary = analyze_study(sqlite_settings, study.name, tmp_path / "out", replicates=20)
    assert "no judgements" in summary["notes"][0]
    assert json.loads((tmp_path / "out" / "summary.json").read_text())["conditions"] == {}
    assert "no judgements" in (tmp_path / "out" / "report.html").read_text()


def test_one_condition_and_no_model_errors(sqlite_settings, tmp_path):
    study = make_study(
        sqlite_settings,
        error_rate=0.0,
        conditions=["twin"],
        tasks=["verify", "trust"],
        items={"split": "test", "n": 12, "model_errors": 0.3},
    )
    simulate_in_db(sqlite_settings, study=study, n_raters=6, profile={"careless_share": 0.0}, seed=0)
    summary = analyze_study(sqlite_settings, study.name, tmp_path / "out", replicates=50)
    twin = summary["conditions"]["twin"]
    assert twin["verification_accuracy"]["mean"] is not None
    assert (
        twin["accept_rate_model_wrong"]["mean"] is None
        and "model errors" in twin["accept_rate_model_wrong"]["reason"]
    )
    assert twin["trust_auroc"]["mean"] is None and twin["simulation_accuracy"]["reason"]
    assert summary["contrasts"] == []
    assert any("one condition" in n for n in summary["notes"])
    assert any("right on every rated item" in n for n in summary["notes"])
    assert (tmp_path / "out" / "report.html").exists()
