"""Simulated raters through the real REST API (in-process app), then export and analysis."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from tests.helpers.study_builders import make_study
from trustlab.db.engine import unit_of_work
from trustlab.db.schema import Judgement, User
from trustlab.platform.accounts.invites import create_invites
from trustlab.platform.app import create_app
from trustlab.platform.client.driver import SimulationPlan, simulate_raters
from trustlab.studies.analysis import analyze_study
from trustlab.studies.monitoring.export import export_study, study_status
from trustlab.studies.simulate import (
    RaterProfile,
    SimulationError,
    assignment_conditions,
    load_profile,
    study_truth,
)


def test_simulated_raters_go_through_the_api(settings, tmp_path):
    study = make_study(
        settings,
        conditions=["none", "twin"],
        raters_per_item=2,
        items_per_rater=6,
        gold={"n": 2, "max_failures": 0},
        tasks=["verify", "true_label", "trust", "comment"],
    )
    truth, classes = study_truth(settings, study.name)
    invites = [link.token for link in create_invites(settings, study=study.name, n=4, simulated=True)]
    profile = {"careless_share": 0.5, "cant_tell_rate": 0.0}
    with TestClient(create_app(settings, ui=False)) as client:
        result = simulate_raters(client, SimulationPlan(
            study=study.name,
            n=4,
            profile=profile,
            seed=3,
            invites=invites,
            truth=truth,
            classes=classes,
            condition_of=assignment_conditions(settings),
            show_progress=False,
        ))
    assert result.raters == 4 and len(result.completion_codes) == 4
    assert result.judgements == 4 * (6 + 2)
    with unit_of_work(settings) as s:
        assert s.scalar(select(func.count()).select_from(Judgement)) == 32
        assert s.scalar(select(func.count()).select_from(User).where(User.simulated.is_(True))) == 4
    status = study_status(settings, study.name)
    assert sum(c["done"] for c in status["per_condition"].values()) == 24 and status["raters"] == 4
    paths = export_study(settings, study.name, tmp_path / "export")
    lines = paths["jsonl"].read_text().splitlines()
    assert len(lines) == 32 and {"condition", "answers", "true_label", "predicted_label"} <= set(
        json.loads(lines[0])
    )
    summary = analyze_study(settings, study.name, tmp_path / "out", replicates=100)
    # Careless raters answer at random: with two gold items and max_failures 0 most of them are excluded,
    # and no careful rater is (their gold accuracy is 0.97).
    assert 1 <= len(summary["excluded_raters"]) <= result.careless


def test_bad_profile_and_too_few_invites_are_clear():
    with pytest.raises(SimulationError, match="verify_model_right"):
        load_profile({"verify_model_right": 2})
    with pytest.raises(SimulationError, match="verify_model_rigth"):
        load_profile({"verify_model_rigth": 0.5})
    with pytest.raises(SimulationError, match="needs 3 invites"):
        plan = SimulationPlan(study="s", n=3, invites=["a"], truth={}, classes=[])
        simulate_raters("http://127.0.0.1:1", plan)
    assert RaterProfile().boost("gradcam+twin").model_wrong == 0.25  # the stronger of the two methods
