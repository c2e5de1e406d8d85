"""The REST API end to end over the ASGI app (both backends): the rater flow, idempotency, 422s."""

from __future__ import annotations

import json
import time

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from tests.helpers.platform_world import study_config
from trustlab.db.engine import unit_of_work
from trustlab.db.schema import Assignment, Judgement, User
from trustlab.platform.accounts import auth
from trustlab.platform.app import create_app
from trustlab.platform.content.worker import ExplanationWorker
from trustlab.studies.monitoring.outcome_blinding import unblind_study

RATER_KEYS = {
    "assignment_id",
    "item_id",
    "image_url",
    "explanations",
    "questions",
    "progress",
    "prediction",
    "condition",
}


def join(client, token: str) -> dict:
    r = client.post("/api/v1/invites/accept", json={"invite": token, "pid": "P-1"})
    assert r.status_code == 200, r.text
    return r.json()


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def answers_for(payload: dict, **overrides) -> dict:
    out = {"model_correct": True, "true_label": "square", "trust": 4}
    out.update(overrides)
    return out


def test_whole_rater_flow(world, client):
    invite = world.invite("alpha")[0]
    joined = join(client, invite)
    assert joined["study"] == "alpha"
    h = bearer(joined["token"])
    seen = []
    for step in range(3):
        r = client.get("/api/v1/studies/alpha/next", headers=h)
        assert r.status_code == 200, r.text
        payload = r.json()
        assert set(payload) <= RATER_KEYS and "condition" not in payload  # alpha is blinded
        text = json.dumps(payload).lower()
        for name in ("gradcam", "grad-cam", "twin", "none"):
            assert name not in text, f"blinded study leaks {name!r}"
        assert "current_label" not in text and "original_label" not in text
        assert payload["progress"] == {"done": step, "total": 3}
        item_id = payload["item_id"]
        assert item_id in world.alpha_items and item_id not in seen
        seen.append(item_id)
        assert payload["prediction"] == {"label": world.predicted[item_id], "confidence": 0.8}
        assert [q["key"] for q in payload["questions"]] == [
            "model_correct",
            "true_label",
            "trust",
            "comment",
            "cant_tell",
        ]
        image = client.get(payload["image_url"], headers=h)
        assert image.status_code == 200 and image.content[:4] == b"\x89PNG"
        for expl in payload["explanations"]:
            assert expl["method"].startswith("explanation-")
            got = client.get(expl["image_url"], headers=h)
            assert got.status_code == 200 and got.content[:4] == b"\x89PNG"
            assert "kind" not in expl  # the family (heatmap, examples) would hint at the method
            if "neighbours" in expl:  # twins
                assert [n["similarity"] for n in expl["neighbours"]] == [0.9, 0.8, 0.7]
                assert all("item_id" not in n for n in expl["neighbours"])
        # the same request twice does not move on
        assert (
            client.get("/api/v1/studies/alpha/next", headers=h).json()["assignment_id"]
            == payload["assignment_id"]
        )
        body = {
            "assignment_id": payload["assignment_id"],
            "answers": answers_for(payload),
            "idempotency_key": f"k-{step}",
            "client_elapsed_ms": 1234.5,
        }
        first = client.post("/api/v1/judgements", json=body, headers=h)
        assert first.status_code == 201, first.text
        again = client.post("/api/v1/judgements", json=body, headers=h)
        assert again.status_code == 200 and again.json() == first.json()
    done = client.get("/api/v1/studies/alpha/next", headers=h)
    assert done.status_code == 204
    code = done.headers["X-Completion-Code"]
    assert len(code) >= 8
    assert client.get("/api/v1/studies/alpha/next", headers=h).headers["X-Completion-Code"] == code
    with unit_of_work(world.settings) as s:
        rater = s.get(User, joined["rater_id"])
        assert (rater.external_pid, rater.completion_code) == ("P-1", code)
        rows = list(s.scalars(select(Judgement).order_by(Judgement.id)))
        assert len(rows) == 3 and all(j.client_elapsed_ms == 1234.5 for j in rows)
        assert rows[0].answers == {
            "model_correct": True,
            "true_label": "square",
            "trust": 4,
            "cant_tell": False,
        }
        statuses = set(s.scalars(select(Assignment.status).where(Assignment.rater_id == rater.id)))
        assert statuses == {"done"}


def test_changed_answer_supersedes(world, client):
    h = bearer(join(client, world.invite("alpha")[0])["token"])
    payload = client.get("/api/v1/studies/alpha/next", headers=h).json()
    aid = payload["assignment_id"]
    first = client.post(
        "/api/v1/judgements",
        headers=h,
        json={"assignment_id": aid, "answers": answers_for(payload), "idempotency_key": "a1"},
    ).json()
    second = client.post(
        "/api/v1/judgements",
        headers=h,
        json={"assignment_id": aid, "answers": answers_for(payload, trust=1), "idempotency_key": "a2"},
    )
    assert second.status_code == 201
    with unit_of_work(world.settings) as s:
        new = s.get(Judgement, second.json()["judgement_id"])
        old = s.get(Judgement, first["judgement_id"])
        assert new.supersedes_id == old.id and old.answers["trust"] == 4 and new.answers["trust"] == 1
    # reusing a key for a different assignment is a conflict, not a silent replay
    other = client.get("/api/v1/studies/alpha/next", headers=h).json()
    r = client.post(
        "/api/v1/judgements",
        headers=h,
        json={
            "assignment_id": other["assignment_id"],
            "answers": answers_for(other),
            "idempotency_key": "a1",
        },
    )
    assert r.status_code == 409


@pytest.mark.parametrize(
    ("answers", "field"),
    [
        ({"model_correct": True, "true_label": "square", "trust": 9}, "trust"),
        ({"model_correct": True, "true_label": "square", "trust": 0}, "trust"),
        ({"model_correct": True, "true_label": "square", "trust": "high"}, "trust"),
        ({"model_correct": "yes", "true_label": "square", "trust": 3}, "model_correct"),
        ({"model_correct": True, "true_label": "triangle", "trust": 3}, "true_label"),
        ({"model_correct": True, "true_label": "square"}, "trust"),
        ({"model_correct": True, "true_label": "square", "trust": 3, "helpfulness": 2}, "helpfulness"),
        ({"model_correct": True, "true_label": "square", "trust": 3, "comment": 5}, "comment"),
    ],
)
def test_invalid_answers_are_422_naming_the_field(world, client, answers, field):
    h = bearer(join(client, world.invite("alpha")[0])["token"])
    aid = client.get("/api/v1/studies/alpha/next", headers=h).json()["assignment_id"]
    r = client.post(
        "/api/v1/judgements",
        headers=h,
        json={"assignment_id": aid, "answers": answers, "idempotency_key": "x"},
    )
    assert r.status_code == 422, r.text
    assert r.json()["field"] == field and field in r.json()["detail"]
    with unit_of_work(world.settings) as s:
        assert s.scalar(select(func.count()).select_from(Judgement)) == 0


def test_cant_tell_allows_missing_answers_and_bad_envelopes_are_422(world, client):
    h = bearer(join(client, world.invite("alpha")[0])["token"])
    aid = client.get("/api/v1/studies/alpha/next", headers=h).json()["assignment_id"]
    r = client.post(
        "/api/v1/judgements",
        headers=h,
        json={"assignment_id": aid, "answers": {"cant_tell": True}, "idempotency_key": "ct"},
    )
    assert r.status_code == 201
    assert (
        client.post("/api/v1/judgements", headers=h, json={"assignment_id": aid, "answers": {}}).status_code
        == 422
    )
    r = client.post(
        "/api/v1/judgements",
        headers=h,
        json={"assignment_id": aid, "answers": {"cant_tell": True}, "idempotency_key": ""},
    )
    assert r.status_code == 422 and r.json()["field"] == "idempotency_key"


def test_unblinded_study_names_condition(world, client):
    h = bearer(join(client, world.invite("beta")[0])["token"])
    payload = client.get("/api/v1/studies/beta/next", headers=h).json()
    assert payload["condition"] == "gradcam"
    assert payload["explanations"][0]["method"] == "gradcam"


def test_missing_explanation_is_computed_on_demand(world):
    calls = []

    def explainer(settings, *, model, item_ids, methods):
        # Stand-in for explain_items: store the missing rows, as the real one does.
        from tests.helpers.platform_world import png_bytes, write_artifact
        from trustlab.db.schema import Explanation, Prediction

        calls.append((model, tuple(item_ids), tuple(methods)))
        with unit_of_work(settings) as s:
            for item_id in item_ids:
                pred = s.scalars(select(Prediction).where(Prediction.item_id == item_id)).one()
                s.add(
                    Explanation(
                        prediction_id=pred.id,
                        method=methods[0],
                        params_key="p",
                        overlay_path=write_artifact(settings, png_bytes(7 + item_id)),
                    )
                )
            s.commit()

    world.add_study(
        study_config("gamma", conditions=["lime"], n=2, per_rater=2, blind=False), world.beta_items[:2]
    )
    app = create_app(world.settings, ui=False, worker=ExplanationWorker(world.settings, explain_fn=explainer))
    with TestClient(app) as client:
        h = bearer(join(client, world.invite("gamma")[0])["token"])
        payload = client.get("/api/v1/studies/gamma/next", headers=h).json()
        expl = payload["explanations"][0]
        assert expl["method"] == "lime" and expl["image_url"]
        assert client.get(expl["image_url"], headers=h).status_code == 200
    assert calls == [("cnn", (payload["item_id"],), ("lime",))]


def test_failed_explanation_does_not_block_the_rater(world, client):
    world.add_study(
        study_config("delta", conditions=["lime"], n=2, per_rater=1, blind=True), world.beta_items[2:4]
    )
    h = bearer(join(client, world.invite("delta")[0])["token"])
    payload = client.get("/api/v1/studies/delta/next", headers=h).json()
    assert payload["explanations"][0]["image_url"] is None and "error" in payload["explanations"][0]


def test_draft_study_gives_no_work(world, client):
    world.add_study(
        study_config("draft1", conditions=["none"], n=1, per_rater=1), world.beta_items[:1], status="draft"
    )
    h = bearer(join(client, world.invite("draft1")[0])["token"])
    r = client.get("/api/v1/studies/draft1/next", headers=h)
    assert r.status_code == 409 and "draft" in r.json()["detail"]


def test_researcher_progress_and_csv(world, client):
    h = bearer(join(client, world.invite("alpha")[0])["token"])
    for k in range(2):
        p = client.get("/api/v1/studies/alpha/next", headers=h).json()
        truth = world.item_labels[p["item_id"]]
        correct = world.predicted[p["item_id"]] == truth
        client.post(
            "/api/v1/judgements",
            headers=h,
            json={
                "assignment_id": p["assignment_id"],
                "idempotency_key": f"r{k}",
                "answers": {"model_correct": correct, "true_label": truth, "trust": 5, "comment": 'a, "b"'},
            },
        )
    auth.create_user(world.settings, username="res", role="researcher", password="pw-1234567")
    token = client.post("/api/v1/login", json={"username": "res", "password": "pw-1234567"}).json()["token"]
    progress = client.get("/api/v1/studies/alpha/progress", headers=bearer(token))
    assert progress.status_code == 200
    body = progress.json()
    assert body["judgements"] == 2 and len(body["raters"]) == 1
    assert body["raters"][0]["done"] == 2 and body["raters"][0]["assigned"] == 3
    assert body["raters"][0]["external_pid"] == "P-1"
    assert body["blinded"]  # the open study's outcomes show once unblinded (test_platform_blinding.py)
    unblind_study(world.settings, "alpha", actor="res", reason="test")
    body = client.get("/api/v1/studies/alpha/progress", headers=bearer(token)).json()
    answered = {c: v for c, v in body["conditions"].items() if v["n_verify"]}
    assert answered and all(
        v["verification_accuracy"] == 1.0 and v["true_label_accuracy"] == 1.0 for v in answered.values()
    )
    csv_r = client.get("/api/v1/studies/alpha/judgements.csv", headers=bearer(token))
    assert csv_r.status_code == 200 and csv_r.headers["content-type"].startswith("text/csv")
    import csv
    import io

    rows = list(csv.DictReader(io.StringIO(csv_r.text)))
    assert len(rows) == 2 and rows[0]["answer_comment"] == 'a, "b"' and rows[0]["answer_trust"] == "5"
    assert rows[0]["true_label"] == world.item_labels[int(rows[0]["item_id"])]


def test_response_time_starts_when_the_item_is_shown(world):
    """A rater's list is assigned on arrival; the response time must not include the wait before
    an item was shown (it counts from the first `next` that served it)."""
    config = study_config("timing", conditions=["none"], n=4, per_rater=4, tasks=("trust",))
    world.add_study(config, world.alpha_items[:4])
    with TestClient(create_app(world.settings, ui=False)) as client:
        invite = world.invite("timing")[0]
        token = client.post("/api/v1/invites/accept", json={"invite": invite}).json()["token"]
        headers = {"Authorization": f"Bearer {token}"}
        for key, trust, wait_s in (("t1", 3, 0.6), ("t2", 4, 0.0)):
            item = client.get("/api/v1/studies/timing/next", headers=headers).json()
            body = {"assignment_id": item["assignment_id"], "answers": {"trust": trust},
                    "idempotency_key": key}
            assert client.post("/api/v1/judgements", headers=headers, json=body).status_code == 201
            time.sleep(wait_s)  # the next item waits, already assigned, while nobody looks at it
    with unit_of_work(world.settings) as s:
        times = dict(s.execute(select(Judgement.idempotency_key, Judgement.response_ms)).all())
    assert times["t2"] < 500, times


def test_a_full_study_gives_no_completion_code(world):
    """A rater who arrives when every item has its raters gets a clear 409, not a completion code
    for work never done."""
    config = study_config("full", conditions=["none"], n=2, per_rater=2, raters_per_item=1,
                          tasks=("trust",))
    world.add_study(config, world.alpha_items[:2])
    with TestClient(create_app(world.settings, ui=False)) as client:
        tokens = []
        for invite in world.invite("full", n=2):
            tokens.append(client.post("/api/v1/invites/accept", json={"invite": invite}).json()["token"])
        first = {"Authorization": f"Bearer {tokens[0]}"}
        assert client.get("/api/v1/studies/full/next", headers=first).status_code == 200
        late = client.get("/api/v1/studies/full/next", headers={"Authorization": f"Bearer {tokens[1]}"})
    assert late.status_code == 409 and "no items left" in late.json()["detail"]
    assert "X-Completion-Code" not in late.headers
    with unit_of_work(world.settings) as s:
        coded = select(func.count()).select_from(User).where(User.completion_code.is_not(None))
        assert s.scalar(coded) == 0
