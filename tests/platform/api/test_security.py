"""What a rater, an anonymous caller and staff may not do (both backends)."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from trustlab.db.engine import unit_of_work
from trustlab.db.schema import Assignment, Explanation, Item
from trustlab.platform.accounts import auth


def rater(client, world, study="alpha") -> dict:
    token = client.post("/api/v1/invites/accept", json={"invite": world.invite(study)[0]}).json()["token"]
    return {"Authorization": f"Bearer {token}"}


def staff(client, world, role: str) -> dict:
    password = "password-" + role
    auth.create_user(world.settings, username=role, role=role, password=password)
    token = client.post("/api/v1/login", json={"username": role, "password": password}).json()["token"]
    return {"Authorization": f"Bearer {token}"}


STAFF_ENDPOINTS = [
    "/api/v1/studies/alpha/progress",
    "/api/v1/studies/alpha/judgements.csv",
    "/api/v1/studies",
]


def test_anonymous_gets_401_everywhere(world, client):
    for path in [
        *STAFF_ENDPOINTS,
        "/api/v1/studies/alpha/next",
        f"/api/v1/items/{world.alpha_items[0]}/image",
        "/api/v1/assignments/1/explanations/0/image",
        "/api/v1/explanations/1/image",
        "/api/v1/me",
    ]:
        r = client.get(path)
        assert r.status_code == 401, path
        assert r.headers["www-authenticate"] == "Bearer"
    r = client.post("/api/v1/judgements", json={"assignment_id": 1, "answers": {}, "idempotency_key": "k"})
    assert r.status_code == 401
    assert (
        client.get("/api/v1/studies/alpha/next", headers={"Authorization": "Bearer forged"}).status_code
        == 401
    )
    assert client.post("/api/v1/login", json={"username": "x", "password": "y"}).status_code == 401
    assert client.post("/api/v1/invites/accept", json={"invite": "forged"}).status_code == 401


def test_staff_endpoints_refuse_raters(world, client):
    h = rater(client, world)
    for path in STAFF_ENDPOINTS:
        assert client.get(path, headers=h).status_code == 403, path
    assert client.get("/api/v1/datasets/shapes/relabel-queue", headers=h).status_code == 403
    assert client.post("/api/v1/relabel/1/decision", headers=h, json={"action": "accept"}).status_code == 403
    with unit_of_work(world.settings) as s:
        explanation_id = s.scalars(select(Explanation.id)).first()
    assert client.get(f"/api/v1/explanations/{explanation_id}/image", headers=h).status_code == 403
    # a curator is not a researcher, a researcher is not a curator; admin is both
    curator = staff(client, world, "curator")
    assert client.get("/api/v1/studies/alpha/progress", headers=curator).status_code == 403
    researcher = staff(client, world, "researcher")
    assert client.get("/api/v1/datasets/shapes/relabel-queue", headers=researcher).status_code == 403
    admin = staff(client, world, "admin")
    assert client.get("/api/v1/studies/alpha/progress", headers=admin).status_code == 200
    assert client.get(f"/api/v1/explanations/{explanation_id}/image", headers=researcher).status_code == 200
    # staff do not rate
    assert client.get("/api/v1/studies/alpha/next", headers=researcher).status_code == 403


def test_rater_cannot_touch_other_raters_or_studies(world, client):
    a, b = rater(client, world), rater(client, world)
    pa = client.get("/api/v1/studies/alpha/next", headers=a).json()
    client.get("/api/v1/studies/alpha/next", headers=b)
    # B cannot answer A's assignment, nor fetch A's explanation images
    r = client.post(
        "/api/v1/judgements",
        headers=b,
        json={
            "assignment_id": pa["assignment_id"],
            "answers": {"cant_tell": True},
            "idempotency_key": "steal",
        },
    )
    assert r.status_code == 404
    for expl in pa["explanations"]:
        assert client.get(expl["image_url"], headers=b).status_code == 404
    # B cannot replay A's idempotency key to learn A's judgement id
    ok = client.post(
        "/api/v1/judgements",
        headers=a,
        json={
            "assignment_id": pa["assignment_id"],
            "answers": {"cant_tell": True},
            "idempotency_key": "a-key",
        },
    )
    assert ok.status_code == 201
    with unit_of_work(world.settings) as s:
        b_assignment = s.scalars(
            select(Assignment)
            .where(Assignment.id != pa["assignment_id"])
            .where(Assignment.rater_id != s.get(Assignment, pa["assignment_id"]).rater_id)
        ).first()
    r = client.post(
        "/api/v1/judgements",
        headers=b,
        json={"assignment_id": b_assignment.id, "answers": {"cant_tell": True}, "idempotency_key": "a-key"},
    )
    # keys are scoped to their assignment: B's request is B's own judgement, never A's id
    assert r.status_code == 201 and r.json()["judgement_id"] != ok.json()["judgement_id"]
    # another study: a plain 404 like an unknown name (no study's existence or name is told
    # to a rater; it was 403 before), and its items are not visible (404)
    assert client.get("/api/v1/studies/beta/next", headers=a).status_code == 404
    assert client.get(f"/api/v1/items/{world.beta_items[0]}/image", headers=a).status_code == 404
    assert client.get("/api/v1/studies/nope/next", headers=a).status_code == 404
    # items of A's own study that A was not assigned are not visible either
    with unit_of_work(world.settings) as s:
        mine = set(
            s.scalars(
                select(Assignment.item_id).where(
                    Assignment.rater_id == s.get(Assignment, pa["assignment_id"]).rater_id
                )
            )
        )
    others = [i for i in world.alpha_items if i not in mine]
    assert others and client.get(f"/api/v1/items/{others[0]}/image", headers=a).status_code == 404
    assert client.get(f"/api/v1/items/{pa['item_id']}/image", headers=a).status_code == 200


def test_rater_never_sees_true_label_or_blinded_condition(world, client):
    h = rater(client, world)
    for _ in range(3):
        r = client.get("/api/v1/studies/alpha/next", headers=h)
        payload = r.json()
        text = json.dumps(payload)
        assert "condition" not in payload
        with unit_of_work(world.settings) as s:
            assignment = s.get(Assignment, payload["assignment_id"])
            condition, item = assignment.condition, s.get(Item, assignment.item_id)
        if condition != "none":
            assert condition not in text
        truth = item.current_label
        # the true class appears only as an answer option, never as a value of its own
        assert "label" not in {k for k in payload} and 'true_label": "' not in text
        if world.predicted[item.id] != truth:
            assert payload["prediction"]["label"] != truth
        client.post(
            "/api/v1/judgements",
            headers=h,
            json={
                "assignment_id": payload["assignment_id"],
                "answers": {"cant_tell": True},
                "idempotency_key": f"n{payload['assignment_id']}",
            },
        )
    me = client.get("/api/v1/me", headers=h).json()
    assert me["role"] == "rater" and me["study"] == "alpha"


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/items/..%2F..%2Fetc%2Fpasswd/image",
        "/api/v1/items/%2e%2e/image",
        "/api/v1/items/../../etc/passwd",
        "/api/v1/items//etc/passwd/image",
        "/api/v1/items/1%2F..%2F..%2Fsecret/image",
        "/api/v1/assignments/..%2F1/explanations/0/image",
        "/api/v1/assignments/1/explanations/..%2F..%2Fsecret/image",
    ],
)
def test_traversal_in_request_paths_never_reaches_files(world, client, path):
    (world.settings.home / "secret").write_text("top secret")
    h = staff(client, world, "admin")
    r = client.get(path, headers=h)
    assert r.status_code in (404, 405, 422)
    assert "top secret" not in r.text


def test_stored_paths_that_escape_are_refused(world, client):
    (world.settings.home / "secret.png").write_bytes(b"\x89PNG secret")
    with unit_of_work(world.settings) as s:
        item = s.get(Item, world.alpha_items[0])
        item.path = "../secret.png"
        expl = s.scalars(select(Explanation)).first()
        expl.overlay_path = str(world.settings.home / "secret.png")  # absolute
        s.commit()
        explanation_id = expl.id
    h = staff(client, world, "admin")
    r = client.get(f"/api/v1/items/{world.alpha_items[0]}/image", headers=h)
    assert r.status_code == 404 and b"secret" not in r.content
    r = client.get(f"/api/v1/explanations/{explanation_id}/image", headers=h)
    assert r.status_code == 404 and b"secret" not in r.content
