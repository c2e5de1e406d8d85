"""Waiting for explanations: a request waits a bounded time for an explanation and
then answers "pending" while the worker goes on; nothing holds a database connection meanwhile, so
with more waiting raters than pool connections other raters' answers still go through at once."""

from __future__ import annotations

import threading
import time

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.helpers.platform_world import build_world, study_config
from tests.helpers.slow_worker import SLOW_S, WAIT_S, SlowWorker
from trustlab.db.engine import unit_of_work
from trustlab.db.schema import Assignment
from trustlab.platform.accounts import auth
from trustlab.platform.accounts.invites import accept_invite, create_invites
from trustlab.platform.app import create_app
from trustlab.platform.content.worker import CALL_HISTORY, ExplanationPending, ExplanationWorker
from trustlab.platform.services.rater import Services

WAITING_RATERS = 4  # more than the pool's one connection


def principal_for(settings, study: str):
    invite = create_invites(settings, study=study, n=1)[0].token
    token = accept_invite(settings, invite=invite).token
    return auth.authenticate(settings, token)


def test_more_waiting_raters_than_connections_and_answers_still_go_through(settings):
    settings = settings.model_copy(update={"db_pool_size": 1, "db_max_overflow": 0})
    world = build_world(settings, explanations=False)  # nothing precomputed: every explanation waits
    world.add_study(study_config("plain", conditions=["none"], n=6, per_rater=6, blind=False),
                    world.beta_items)
    worker = SlowWorker(settings, world.model_version_id)
    services = Services(settings, worker=worker)
    waiting = [principal_for(settings, "beta") for _ in range(WAITING_RATERS)]
    answerer = principal_for(settings, "plain")
    results: dict[int, tuple[float, object]] = {}
    barrier = threading.Barrier(WAITING_RATERS + 1)

    def wait_for_item(index: int) -> None:
        barrier.wait()
        began = time.monotonic()
        try:
            outcome = services.next_item(waiting[index], study="beta")
        except Exception as exc:  # reported by the assertions below
            outcome = exc
        results[index] = (time.monotonic() - began, outcome)

    threads = [threading.Thread(target=wait_for_item, args=(i,)) for i in range(WAITING_RATERS)]
    for thread in threads:
        thread.start()
    barrier.wait()
    began = time.monotonic()
    answer_times = []
    for n in range(3):  # another rater answers while the explanations are being computed
        item = services.next_item(answerer, study="plain")
        t0 = time.monotonic()
        _, created = services.submit(answerer, assignment_id=item["assignment_id"], idempotency_key=f"a{n}",
                                     answers={"model_correct": True, "true_label": "square", "trust": 3})
        answer_times.append(time.monotonic() - t0)
        assert created
    answered_within = time.monotonic() - began
    for thread in threads:
        thread.join(timeout=30)
    assert answered_within < SLOW_S, answer_times  # nobody's answer waited for the explainer
    assert max(answer_times) < 1.0, answer_times
    for elapsed, outcome in results.values():
        assert isinstance(outcome, dict), outcome
        assert elapsed < WAIT_S + 1.5, elapsed  # bounded wait, not the explainer's SLOW_S
        assert outcome["pending"] is True and outcome["retry_after_s"] >= 1
        [entry] = outcome["explanations"]
        assert entry["status"] == "pending" and entry["image_url"] is None and "error" not in entry
    pending_ids = [outcome["assignment_id"] for _, outcome in results.values()]
    with unit_of_work(settings) as s:  # a pending item is not shown yet: its response time has not begun
        served = s.scalars(select(Assignment.served_at).where(Assignment.id.in_(pending_ids))).all()
    assert served == [None] * WAITING_RATERS
    deadline = time.monotonic() + 3 * SLOW_S
    ready = None
    while time.monotonic() < deadline:
        ready = services.next_item(waiting[0], study="beta")
        if not ready.get("pending"):
            break
        time.sleep(0.2)
    assert ready is not None and "pending" not in ready
    assert ready["explanations"][0]["status"] == "ready" and ready["explanations"][0]["image_url"]
    with unit_of_work(settings) as s:
        assert s.get(Assignment, ready["assignment_id"]).served_at is not None
    assert worker.call_count <= 2  # the four raters' requests joined one batch (two if one was late)
    worker.close()


def test_pending_then_ready_through_the_api(sqlite_settings):
    world = build_world(sqlite_settings, explanations=False)
    worker = SlowWorker(sqlite_settings, world.model_version_id, slow_s=1.0)
    with TestClient(create_app(sqlite_settings, ui=False, worker=worker)) as client:
        invite = world.invite("beta")[0]
        token = client.post("/api/v1/invites/accept", json={"invite": invite}).json()["token"]
        h = {"Authorization": f"Bearer {token}"}
        first = client.get("/api/v1/studies/beta/next", headers=h)
        assert first.status_code == 202 and first.headers["Retry-After"] == "2"
        body = first.json()
        assert body["pending"] is True and body["retry_after_s"] == 2
        assert body["explanations"][0]["status"] == "pending" and body["explanations"][0]["image_url"] is None
        image = client.get(f"/api/v1/assignments/{body['assignment_id']}/explanations/0/image", headers=h)
        assert image.status_code == 202 and image.json() == {"pending": True, "retry_after_s": 2}
        for _ in range(40):
            again = client.get("/api/v1/studies/beta/next", headers=h)
            if again.status_code != 202:
                break
            time.sleep(0.25)
        assert again.status_code == 200, again.text
        payload = again.json()
        assert payload["assignment_id"] == body["assignment_id"] and "pending" not in payload
        [entry] = payload["explanations"]
        assert entry["status"] == "ready"
        shown = client.get(entry["image_url"], headers=h)
        assert shown.status_code == 200 and shown.content[:4] == b"\x89PNG"
        answer = client.post("/api/v1/judgements", headers=h, json={
            "assignment_id": payload["assignment_id"], "idempotency_key": "k1",
            "answers": {"model_correct": True, "true_label": "square", "trust": 3}})
        assert answer.status_code == 201
        spec = client.get("/api/v1/openapi.json").json()
        documented = spec["paths"]["/api/v1/studies/{study}/next"]["get"]["responses"]
        assert "202" in documented and "Retry-After" in documented["202"]["headers"]
    worker.close()


def test_a_failure_after_the_wait_is_reported_on_the_next_poll_not_recomputed(sqlite_settings):
    calls = []

    def slow_failure(settings, *, model, item_ids, methods):
        calls.append(item_ids)
        time.sleep(0.5)
        raise RuntimeError("model file missing")

    worker = ExplanationWorker(sqlite_settings, explain_fn=slow_failure, wait_s=0.05)
    with pytest.raises(ExplanationPending):
        worker.request("cnn", 1, "lime")
    time.sleep(1.0)
    for _ in range(3):  # the page polls: each poll hears the failure, none starts the computation again
        with pytest.raises(RuntimeError, match="model file missing"):
            worker.request("cnn", 1, "lime")
    assert calls == [[1]]
    worker.close()


def test_the_call_history_is_bounded(sqlite_settings):
    worker = ExplanationWorker(sqlite_settings, explain_fn=lambda settings, **kw: [], window_s=0.0)
    total = CALL_HISTORY + 40
    for item_id in range(total):
        worker.request("cnn", item_id, "lime", timeout=10)
    worker.close()
    assert worker.call_count == total
    assert len(worker.calls) == CALL_HISTORY and worker.calls[-1] == ("cnn", "lime", [total - 1])
