"""`trustlab demo --fast` end to end on SQLite: every stage leaves its rows, files and report, and a
second run skips every stage that is done."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from trustlab.db.engine import unit_of_work
from trustlab.db.schema import (
    Explanation,
    Item,
    Judgement,
    ModelVersion,
    Prediction,
    Rater,
    Study,
)
from trustlab.demo import FAST, STUDY, report_dir, run_demo

pytestmark = pytest.mark.slow


def test_fast_demo_runs_every_stage_then_skips_them(sqlite_settings):
    settings = sqlite_settings
    first = run_demo(settings, plan=FAST, echo=lambda _: None, progress=False)
    assert [s.status for s in first.stages] == ["done"] * len(first.stages)

    with unit_of_work(settings) as s:
        count = lambda model: s.scalar(select(func.count()).select_from(model))  # noqa: E731
        assert count(Item) == FAST.n_images
        assert s.scalar(select(ModelVersion).where(ModelVersion.name == "cnn-demo")).metrics["test"]
        kinds = dict(s.execute(select(Prediction.kind, func.count()).group_by(Prediction.kind)).all())
        assert kinds["holdout"] == FAST.n_images and kinds["crossval"] > 0
        methods = set(s.scalars(select(Explanation.method).distinct()))
        assert methods == set(FAST.explain_methods)
        assert s.scalar(select(Study.status).where(Study.name == STUDY)) == "open"
        assert count(Judgement) > 0
        simulated = s.scalar(select(func.count()).select_from(Rater).where(Rater.simulated))
        assert simulated == FAST.simulated_raters

    summary = json.loads((report_dir(settings) / "summary.json").read_text())
    assert set(summary["conditions"]) == {"none", "gradcam", "lime", "twin"}
    assert "<html" in (report_dir(settings) / "report.html").read_text().lower()
    assert (settings.home / "relabel" / "proposals.csv").is_file()
    assert first.invite_url and "?invite=" in first.invite_url
    assert first.researcher and first.researcher[1]

    # The printed invite link leads a person to an item (the simulated raters left room).
    from fastapi.testclient import TestClient

    from trustlab.platform.app import create_app

    invite = first.invite_url.split("invite=")[1]
    with TestClient(create_app(settings, ui=False)) as client:
        token = client.post("/api/v1/invites/accept", json={"invite": invite}).json()["token"]
        item = client.get(f"/api/v1/studies/{STUDY}/next", headers={"Authorization": f"Bearer {token}"})
    assert item.status_code == 200 and item.json()["explanations"] is not None

    second = run_demo(settings, plan=FAST, echo=lambda _: None, progress=False)
    statuses = {s.name: s.status for s in second.stages}
    assert statuses.pop("invite link") == "done"  # a fresh link each run
    assert set(statuses.values()) == {"skipped"}
    with unit_of_work(settings) as s:
        assert s.scalar(select(func.count()).select_from(Item)) == FAST.n_images
