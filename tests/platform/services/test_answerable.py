"""Which answers and names a rater may reach: no judgement for a released assignment or
from a finished rater (409 with a clear message, replays still acknowledged), a 404 for any study but
the rater's own that names no other study, and a bounded relabel queue."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from trustlab.db.engine import unit_of_work
from trustlab.db.schema import Assignment, RelabelProposal
from trustlab.platform.accounts import auth
from trustlab.platform.app import create_app
from trustlab.platform.content.worker import ExplanationWorker
from trustlab.platform.services import staff
from trustlab.studies.design.assign import release_abandoned

ANSWERS = {"model_correct": True, "true_label": "square", "trust": 3}


@pytest.fixture
def client(world):
    with TestClient(create_app(world.settings, ui=False, worker=ExplanationWorker(world.settings))) as c:
        yield c


def join(client, world, study: str) -> dict:
    token = client.post("/api/v1/invites/accept", json={"invite": world.invite(study)[0]}).json()["token"]
    return {"Authorization": f"Bearer {token}"}


def answer(client, h, assignment_id: int, key: str):
    return client.post("/api/v1/judgements", headers=h,
                       json={"assignment_id": assignment_id, "idempotency_key": key, "answers": ANSWERS})


def test_a_released_assignment_takes_no_answer_until_it_is_given_back(world, client):
    h = join(client, world, "beta")
    item = client.get("/api/v1/studies/beta/next", headers=h).json()
    with unit_of_work(world.settings) as s:  # the rater timed out: their open items are released
        assert release_abandoned(s, study_id=world.studies["beta"], older_than=timedelta(0)) == 2
    late = answer(client, h, item["assignment_id"], "late")
    assert late.status_code == 409 and "released" in late.json()["detail"]
    with unit_of_work(world.settings) as s:
        assert s.get(Assignment, item["assignment_id"]).status == "released"  # not marked done
    again = client.get("/api/v1/studies/beta/next", headers=h).json()  # back: the item still has room
    assert again["assignment_id"] == item["assignment_id"]
    assert answer(client, h, item["assignment_id"], "back").status_code == 201


def test_a_finished_rater_cannot_add_or_change_answers(world, client):
    h = join(client, world, "beta")
    keys = []
    for n in range(2):
        item = client.get("/api/v1/studies/beta/next", headers=h).json()
        assert answer(client, h, item["assignment_id"], f"k{n}").status_code == 201
        keys.append((item["assignment_id"], f"k{n}"))
    done = client.get("/api/v1/studies/beta/next", headers=h)
    assert done.status_code == 204 and done.headers["X-Completion-Code"]
    changed = answer(client, h, keys[0][0], "changed-after-the-code")
    assert changed.status_code == 409 and "finished" in changed.json()["detail"]
    assert answer(client, h, *keys[0]).status_code == 200  # a retried, acknowledged answer still is


def test_a_rater_asking_for_another_study_learns_no_study_names(world, client):
    h = join(client, world, "alpha")
    for name in ("nope", "beta"):
        r = client.get(f"/api/v1/studies/{name}/next", headers=h)
        assert r.status_code == 404
        detail = r.json()["detail"]
        assert "known" not in detail and "alpha" in detail  # only the rater's own study is named
        if name == "nope":
            assert "beta" not in detail


def test_the_relabel_queue_is_bounded(world, client):
    with unit_of_work(world.settings) as s:
        s.add_all([
            RelabelProposal(dataset_id=world.dataset_id, item_id=i, current_label="square",
                            proposed_label="disc", score=0.5, method="majority", evidence={})
            for i in world.alpha_items[:3]
        ])
    auth.create_user(world.settings, username="cura", role="curator", password="curator-password-1")
    token = auth.login(world.settings, username="cura", password="curator-password-1").token
    h = {"Authorization": f"Bearer {token}"}
    path = "/api/v1/datasets/shapes/relabel-queue"
    assert client.get(path, headers=h, params={"limit": staff.MAX_QUEUE_LIMIT + 1}).status_code == 422
    assert client.get(path, headers=h, params={"limit": 0}).status_code == 422
    assert len(client.get(path, headers=h, params={"limit": staff.MAX_QUEUE_LIMIT}).json()) == 3
    curator = auth.authenticate(world.settings, token)
    services = client.app.state.services
    assert len(staff.curator_queue(services, curator, dataset="shapes", limit=0)) == 1  # clamped
    assert len(staff.curator_queue(services, curator, dataset="shapes", limit=10**9)) == 3
    with unit_of_work(world.settings) as s:
        assert len(s.scalars(select(RelabelProposal)).all()) == 3
