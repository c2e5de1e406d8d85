"""`trustlab demo --fast` end to end on SQLite: every stage leaves its rows, files and report, the
study's items are explained before serving, the stage times are printed, a second run skips every
stage that is done, and the background job explains the rest of the test split."""

from __future__ import annotations

import io
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
    Study,
    User,
)
from trustlab.demo import FAST, STUDY, report_dir, run_demo
from trustlab.demo.background import log_path, start_background, stop_background
from trustlab.demo.explaining import complete_explanations, missing_explanations, study_item_ids
from trustlab.demo.report import print_summary

pytestmark = pytest.mark.slow


def test_fast_demo_runs_every_stage_then_skips_them(sqlite_settings):
    settings = sqlite_settings
    first = run_demo(settings, plan=FAST, echo=lambda _: None, progress=False)
    assert [s.status for s in first.stages] == ["done"] * len(first.stages)
    names = [s.name for s in first.stages]
    order = [names.index(n) for n in ("create study", "explain the study's items", "simulated raters")]
    assert order == sorted(order)

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
        simulated = s.scalar(select(func.count()).select_from(User).where(User.simulated))
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

    # Before serving, the study's items (regular and gold) have the shown methods' explanations, the
    # saliency ones with faithfulness scores (the analysis needs them); the rest of the test split waits.
    study_items = study_item_ids(settings)
    shown = {"gradcam", "lime", "twin"}
    with unit_of_work(settings) as s:
        rows = s.execute(
            select(Prediction.item_id, Explanation.method, Explanation.faithfulness)
            .join(Prediction, Prediction.id == Explanation.prediction_id)
        ).all()
    explained = {(item_id, method): faith for item_id, method, faith in rows}
    assert len(study_items) == FAST.study_items + 2  # plus the gold items
    for item_id in study_items:
        for method in shown:
            assert (item_id, method) in explained
        assert explained[(item_id, "gradcam")]["deletion_auc"] is not None
        assert explained[(item_id, "lime")]["insertion_auc"] is not None
    test_items = sum(1 for item in _test_item_ids(settings))
    assert first.remaining_explanations == missing_explanations(settings, FAST)
    assert first.remaining_explanations == (test_items - len(study_items)) * len(shown) > 0
    assert len(rows) == len(study_items) * len(shown)

    # The stage times are printed: one row per stage and the total.
    out = io.StringIO()
    print_summary(settings, first, host="127.0.0.1", port=7860, console=_Console(file=out, width=200))
    printed = out.getvalue()
    assert "stage times" in printed and "total" in printed and "background" in printed
    for stage in first.stages:
        assert stage.name in printed and f"{stage.seconds:.1f}" in printed
    assert f"{first.seconds:.1f}" in printed
    assert first.seconds >= sum(stage.seconds for stage in first.stages)

    second = run_demo(settings, plan=FAST, echo=lambda _: None, progress=False)
    statuses = {s.name: s.status for s in second.stages}
    assert statuses.pop("invite link") == "done"  # a fresh link each run
    assert set(statuses.values()) == {"skipped"}
    assert second.seconds < 30
    with unit_of_work(settings) as s:
        assert s.scalar(select(func.count()).select_from(Item)) == FAST.n_images

    # The background job (run here synchronously through the same function) explains the rest of the
    # test split with every method; a second pass has nothing to do.
    assert complete_explanations(settings, FAST) == first.remaining_explanations
    assert missing_explanations(settings, FAST) == 0
    with unit_of_work(settings) as s:
        pairs = s.execute(
            select(Prediction.item_id, Explanation.method)
            .join(Prediction, Prediction.id == Explanation.prediction_id)
            .where(Prediction.kind == "holdout")
        ).all()
    assert len(pairs) == len(set(pairs)) == test_items * len(FAST.explain_methods)
    assert complete_explanations(settings, FAST) == 0
    # The child process the server starts finds nothing left either, and says so in its log.
    process = start_background(settings, FAST, niceness=0)  # niced, it may starve on a busy machine
    try:
        assert process.wait(timeout=300) == 0
    finally:
        stop_background(process)
    assert "0 explanations added" in log_path(settings).read_text()
    third = run_demo(settings, plan=FAST, echo=lambda _: None, progress=False)
    assert third.remaining_explanations == 0


def _test_item_ids(settings) -> list[int]:
    with unit_of_work(settings) as s:
        return list(s.scalars(select(Item.id).where(Item.split == "test")))


def _Console(**kwargs):
    from rich.console import Console

    return Console(soft_wrap=True, **kwargs)
