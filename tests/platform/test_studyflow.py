"""A study made by the studies engineer's create_study (with gold items) rated through the API, and
the whole app (UI included) answering at / and /api/v1/docs."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.helpers.platform_world import study_config
from trustlab.db.engine import unit_of_work
from trustlab.db.schema import Assignment, Judgement
from trustlab.platform.app import create_app
from trustlab.platform.content.worker import ExplanationWorker
from trustlab.studies.design.create import create_study, open_study


def no_explainer(settings, *, model, item_ids, methods):
    raise RuntimeError("not needed")


def test_created_study_with_gold_items_through_the_api(world):
    config = study_config(
        "made",
        conditions=["none", "gradcam"],
        n=4,
        per_rater=4,
        raters_per_item=2,
        gold={"n": 1, "max_failures": 1},
    )
    config["items"]["model_errors"] = 0.25
    create_study(world.settings, config)
    open_study(world.settings, "made")
    app = create_app(
        world.settings, ui=False, worker=ExplanationWorker(world.settings, explain_fn=no_explainer)
    )
    with TestClient(app) as client:
        for invite in world.invite("made", n=2):
            token = client.post("/api/v1/invites/accept", json={"invite": invite}).json()["token"]
            h = {"Authorization": f"Bearer {token}"}
            seen = 0
            while (r := client.get("/api/v1/studies/made/next", headers=h)).status_code == 200:
                payload = r.json()
                assert "gold" not in r.text.lower()  # attention items look like any other item
                client.post(
                    "/api/v1/judgements",
                    headers=h,
                    json={
                        "assignment_id": payload["assignment_id"],
                        "idempotency_key": f"{token[:8]}-{seen}",
                        "answers": {"model_correct": True, "true_label": "square", "trust": 3},
                    },
                )
                seen += 1
                assert seen <= 10
            assert r.status_code == 204 and seen == 5  # 4 regular items + 1 gold item
    with unit_of_work(world.settings) as s:
        rows = list(
            s.execute(
                select(Assignment.is_gold, Judgement.id).join(
                    Judgement, Judgement.assignment_id == Assignment.id
                )
            )
        )
    assert len(rows) == 10 and sum(is_gold for is_gold, _ in rows) == 2


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_whole_app_serves_ui_and_docs(sqlite_settings):
    app = create_app(sqlite_settings)
    with TestClient(app) as client:
        assert client.get("/api/v1/health").json() == {"status": "ok"}
        docs = client.get("/api/v1/docs")
        assert docs.status_code == 200 and "swagger" in docs.text.lower()
        spec = client.get("/api/v1/openapi.json").json()
        for path in (
            "/api/v1/login",
            "/api/v1/invites/accept",
            "/api/v1/studies/{study}/next",
            "/api/v1/judgements",
            "/api/v1/studies/{study}/progress",
            "/api/v1/studies/{study}/judgements.csv",
            "/api/v1/items/{item_id}/image",
        ):
            assert path in spec["paths"], path
        page = client.get("/")
        assert page.status_code == 200 and "<html" in page.text.lower()
        assert "__trustlabKeys" in page.text  # the keyboard script is installed through `head`
