"""Blinded monitoring over the REST API (both backends): while a study runs, the progress payload
carries progress, attrition and rater quality but no outcome number per condition; `study unblind`
(recorded: who, when, why) or `study close` shows them."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from tests.helpers.platform_world import study_config
from trustlab.db.engine import unit_of_work
from trustlab.db.schema import Judgement, StudyUnblinding
from trustlab.platform.accounts import auth
from trustlab.platform.app import create_app
from trustlab.platform.ui.staff.researcher import blinding_line
from trustlab.studies.design.create import close_study, open_study
from trustlab.studies.monitoring.outcome_blinding import (
    StillBlinded,
    analysis_look,
    study_blinding,
    unblind_study,
)

OUTCOME_KEYS = {"verification_accuracy", "true_label_accuracy", "n_verify", "n_true_label"}


@pytest.fixture
def client(world):
    with TestClient(create_app(world.settings, ui=False)) as c:
        yield c


def _answer_all(world, client, *, wrong_from: int) -> None:
    """One rater answers every item of alpha: right on the first ``wrong_from``, wrong after; the last
    answer is "can't tell"."""
    invite = world.invite("alpha")[0]
    token = client.post("/api/v1/invites/accept", json={"invite": invite, "pid": "P-9"}).json()["token"]
    h = {"Authorization": f"Bearer {token}"}
    for k in range(3):
        p = client.get("/api/v1/studies/alpha/next", headers=h).json()
        truth = world.item_labels[p["item_id"]]
        correct = world.predicted[p["item_id"]] == truth
        verdict = correct if k < wrong_from else not correct
        answers = {"model_correct": verdict, "true_label": truth, "trust": 3}
        if k == 2:
            answers = {"cant_tell": True, "trust": 3}
        body = {"assignment_id": p["assignment_id"], "idempotency_key": f"b{k}", "answers": answers}
        assert client.post("/api/v1/judgements", headers=h, json=body).status_code == 201


@pytest.fixture
def researcher(world, client):
    auth.create_user(world.settings, username="res", role="researcher", password="pw-1234567")
    token = client.post("/api/v1/login", json={"username": "res", "password": "pw-1234567"}).json()["token"]
    return {"Authorization": f"Bearer {token}"}


def get_progress(client, headers) -> dict:
    r = client.get("/api/v1/studies/alpha/progress", headers=headers)
    assert r.status_code == 200, r.text
    return r.json()


def test_progress_is_blinded_until_unblind_and_unblinding_is_recorded(world, client, researcher):
    _answer_all(world, client, wrong_from=1)
    body = get_progress(client, researcher)
    # Blinded: said so, with how to unblind; counts per condition only.
    assert body["blinded"] is True and body["blinding"]["blinded"] is True
    reason = body["blinding"]["reason"]
    assert "study unblind alpha" in reason and "study close alpha" in reason
    assert body["blinding"]["unblinded"] is None and body["blinding"]["looks"] == []
    for counts in body["conditions"].values():
        assert set(counts) == {"assigned", "done", "released"}
    assert sum(c["done"] for c in body["conditions"].values()) == 3
    # Progress, attrition and rater quality stay live.
    (rater,) = body["raters"]
    assert (rater["done"], rater["assigned"], rater["released"]) == (3, 3, 0)
    assert rater["cant_tell_rate"] == pytest.approx(1 / 3, abs=1e-4)
    assert rater["gold_seen"] == 0 and rater["gold_failures"] == 0
    assert rater["median_time_s"] is not None and rater["median_time_s"] >= 0
    assert "true_label_krippendorff_alpha" in body["agreement"]  # pooled over conditions
    # The raw judgements would give every outcome away: withheld too, saying how to unblind.
    csv_r = client.get("/api/v1/studies/alpha/judgements.csv", headers=researcher)
    assert csv_r.status_code == 409 and "study unblind alpha" in csv_r.json()["detail"]

    state = unblind_study(world.settings, "alpha", actor="rita", reason="safety review")
    assert state["blinded"] is False and state["unblinded"]["actor"] == "rita"
    body = get_progress(client, researcher)
    assert body["blinded"] is False and body["blinding"]["reason"] is None
    first = body["blinding"]["unblinded"]
    assert (first["source"], first["actor"], first["reason"]) == ("unblind", "rita", "safety review")
    assert first["at"].endswith("+00:00")
    answered = {c: v for c, v in body["conditions"].items() if v["n_verify"]}
    assert set().union(*[set(v) for v in body["conditions"].values()]) >= OUTCOME_KEYS
    # Two verify answers (one right, one wrong) and a can't-tell, left out.
    assert sum(v["n_verify"] for v in answered.values()) == 2
    assert sorted(v["verification_accuracy"] for v in answered.values()) == [0.0, 1.0]
    assert client.get("/api/v1/studies/alpha/judgements.csv", headers=researcher).status_code == 200
    assert study_blinding(world.settings, "alpha")["looks"][-1]["source"] == "export"  # a recorded look

    # Unblinding twice appends; the first record stays the unblinding.
    unblind_study(world.settings, "alpha", actor="sam", reason="again")
    blinding = get_progress(client, researcher)["blinding"]
    assert blinding["unblinded"]["actor"] == "rita"
    assert [r["actor"] for r in blinding["looks"]] == ["rita", "res", "sam"]  # the CSV export was a look


def test_close_unblinds_and_reopening_keeps_it_unblinded(world, client, researcher):
    _answer_all(world, client, wrong_from=3)
    assert get_progress(client, researcher)["blinded"] is True
    close_study(world.settings, "alpha", actor="carla")
    body = get_progress(client, researcher)
    assert body["status"] == "closed" and body["blinded"] is False
    first = body["blinding"]["unblinded"]
    assert (first["source"], first["actor"]) == ("close", "carla")
    assert "unblinded by carla (close" in blinding_line(body)  # the researcher tab's line
    assert any(v.get("verification_accuracy") == 1.0 for v in body["conditions"].values())
    open_study(world.settings, "alpha")  # numbers seen cannot be unseen
    assert get_progress(client, researcher)["blinded"] is False
    close_study(world.settings, "alpha", actor="carla")  # already unblinded: no second record
    with unit_of_work(world.settings) as s:
        assert [r.source for r in s.scalars(select(StudyUnblinding))] == ["close"]


def test_analysis_of_a_running_study_is_refused_unless_unblinded_and_recorded(world):
    with pytest.raises(StillBlinded, match="--unblind"):
        analysis_look(world.settings, "alpha", unblind=False)
    assert study_blinding(world.settings, "alpha")["blinded"] is True  # a refusal records nothing
    look = analysis_look(world.settings, "alpha", unblind=True, actor="ana", reason="interim")
    assert look["interim_look"] == 1 and look["unblinded"]["source"] == "analyze"
    # Once unblinded, a later analysis runs without --unblind but is still counted as a look.
    assert analysis_look(world.settings, "alpha", unblind=False, actor="ana")["interim_look"] == 2
    close_study(world.settings, "alpha")
    assert analysis_look(world.settings, "alpha", unblind=False) is None  # closed: not a look
    assert len(study_blinding(world.settings, "alpha")["looks"]) == 2


def test_between_subject_rater_times_are_withheld_while_blinded(world, client, researcher):
    """One condition per rater: a rater's can't-tell rate and time would compare conditions."""
    config = study_config("solo", conditions=["none", "gradcam"], n=4, per_rater=2, design="between")
    world.add_study(config, world.beta_items[:4])
    invite = world.invite("solo")[0]
    token = client.post("/api/v1/invites/accept", json={"invite": invite}).json()["token"]
    h = {"Authorization": f"Bearer {token}"}
    p = client.get("/api/v1/studies/solo/next", headers=h).json()
    body = {"assignment_id": p["assignment_id"], "idempotency_key": "s0", "answers": {"cant_tell": True,
                                                                                      "trust": 2}}
    assert client.post("/api/v1/judgements", headers=h, json=body).status_code == 201

    def solo() -> dict:
        return client.get("/api/v1/studies/solo/progress", headers=researcher).json()

    blinded = solo()
    (rater,) = blinded["raters"]
    assert blinded["blinding"]["withheld"] == ["gold_failures", "cant_tell_rate", "median_time_s"]
    assert rater["cant_tell_rate"] is None and rater["median_time_s"] is None and rater["done"] == 1
    assert rater["gold_failures"] is None  # gold accuracy per rater is gold accuracy per condition here
    unblind_study(world.settings, "solo", actor="rita")
    (rater,) = solo()["raters"]
    assert rater["cant_tell_rate"] == 1.0 and rater["median_time_s"] is not None


def test_a_closed_study_takes_no_more_answers_but_replays_stay_acknowledged(world, client):
    invite = world.invite("alpha")[0]
    token = client.post("/api/v1/invites/accept", json={"invite": invite}).json()["token"]
    h = {"Authorization": f"Bearer {token}"}
    first = client.get("/api/v1/studies/alpha/next", headers=h).json()
    truth = world.item_labels[first["item_id"]]
    body = {"assignment_id": first["assignment_id"], "idempotency_key": "c0",
            "answers": {"model_correct": True, "true_label": truth, "trust": 3}}
    stored = client.post("/api/v1/judgements", headers=h, json=body)
    assert stored.status_code == 201
    second = client.get("/api/v1/studies/alpha/next", headers=h).json()
    close_study(world.settings, "alpha", actor="carla")
    late = client.post("/api/v1/judgements", headers=h, json={
        "assignment_id": second["assignment_id"], "idempotency_key": "c1",
        "answers": {"model_correct": True, "true_label": truth, "trust": 3}})
    assert late.status_code == 409 and "closed" in late.json()["detail"]
    again = client.post("/api/v1/judgements", headers=h, json=body)  # the client retries an acknowledged one
    assert again.status_code in (200, 201) and again.json()["judgement_id"] == stored.json()["judgement_id"]
    with unit_of_work(world.settings) as s:
        assert s.scalar(select(func.count()).select_from(Judgement)) == 1
