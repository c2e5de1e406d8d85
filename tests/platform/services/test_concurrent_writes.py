"""Writes that race or repeat through the REST API (both backends): idempotency keys are scoped to
their assignment and a replay with other answers is refused; two curators deciding one proposal at
once get one decision and one 409 naming the winner; a curator undoes only their own change."""

from __future__ import annotations

import threading

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from trustlab.db.engine import unit_of_work
from trustlab.db.schema import Item, LabelRevision, RelabelProposal
from trustlab.platform.accounts import auth
from trustlab.platform.app import create_app
from trustlab.platform.content.worker import ExplanationWorker
from trustlab.platform.errors import Conflict
from trustlab.platform.services import staff


def no_explainer(settings, *, model, item_ids, methods):
    raise RuntimeError("not in these tests")


@pytest.fixture
def app(world):
    worker = ExplanationWorker(world.settings, explain_fn=no_explainer)
    return create_app(world.settings, ui=False, worker=worker)


@pytest.fixture
def client(app):
    with TestClient(app) as c:
        yield c


def rater(client, world) -> dict:
    token = client.post("/api/v1/invites/accept", json={"invite": world.invite("alpha")[0]}).json()["token"]
    return {"Authorization": f"Bearer {token}"}


def curator(client, world, handle: str) -> dict:
    auth.create_user(world.settings, username=handle, role="curator", password=f"pw-{handle}-long")
    r = client.post("/api/v1/login", json={"username": handle, "password": f"pw-{handle}-long"})
    return {"Authorization": f"Bearer {r.json()['token']}"}


def submit(client, headers, assignment_id: int, key: str, trust: int = 4):
    answers = {"model_correct": True, "true_label": "square", "trust": trust}
    body = {"assignment_id": assignment_id, "answers": answers, "idempotency_key": key}
    return client.post("/api/v1/judgements", headers=headers, json=body)


def test_idempotency_keys_are_per_assignment_and_a_replay_must_match(world, client):
    a, b = rater(client, world), rater(client, world)
    aid_a = client.get("/api/v1/studies/alpha/next", headers=a).json()["assignment_id"]
    aid_b = client.get("/api/v1/studies/alpha/next", headers=b).json()["assignment_id"]
    first = submit(client, a, aid_a, "k-1")
    assert first.status_code == 201
    # another rater's assignment: the same key is a different request (no 409, no id of A's)
    other = submit(client, b, aid_b, "k-1")
    assert other.status_code == 201 and other.json()["judgement_id"] != first.json()["judgement_id"]
    # the same request again is a replay; the same key with another answer is refused
    again = submit(client, a, aid_a, "k-1")
    assert again.status_code == 200 and again.json() == first.json()
    changed = submit(client, a, aid_a, "k-1", trust=1)
    assert changed.status_code == 409 and "different answer" in changed.json()["detail"]
    assert submit(client, a, aid_a, "k-2", trust=1).status_code == 201  # a changed answer, new key


def _proposal(world) -> int:
    item_id = world.alpha_items[0]
    current = world.item_labels[item_id]
    with unit_of_work(world.settings) as s:
        proposal = RelabelProposal(
            dataset_id=world.dataset_id, item_id=item_id, current_label=current,
            proposed_label="disc" if current == "square" else "square", score=0.9, method="majority",
            evidence={},
        )
        s.add(proposal)
        s.flush()
        return proposal.id


def test_two_curators_deciding_one_proposal_at_once_get_one_decision(world, client):
    heads = {name: curator(client, world, name) for name in ("cora", "cyd")}
    for round_no in range(3):
        proposal_id = _proposal(world)
        barrier = threading.Barrier(2)
        answers: dict[str, object] = {}

        def decide(name: str, action: str, proposal_id=proposal_id, barrier=barrier, answers=answers) -> None:
            barrier.wait()
            answers[name] = client.post(f"/api/v1/relabel/{proposal_id}/decision", headers=heads[name],
                                        json={"action": action})

        pairs = (("cora", "accept"), ("cyd", "reject"))
        threads = [threading.Thread(target=decide, args=pair) for pair in pairs]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        codes = sorted(r.status_code for r in answers.values())
        assert codes == [200, 409], {n: (r.status_code, r.text) for n, r in answers.items()}
        winner = next(n for n, r in answers.items() if r.status_code == 200)
        loser = next(n for n in answers if n != winner)
        assert f"by {winner}" in answers[loser].json()["detail"]
        with unit_of_work(world.settings) as s:
            proposal = s.get(RelabelProposal, proposal_id)
            assert proposal.decided_by == winner
            revisions = s.scalars(select(LabelRevision).where(LabelRevision.proposal_id == proposal_id)).all()
            assert len(revisions) == (1 if proposal.status == "accepted" else 0)
            if round_no < 2 and revisions:  # put the label back for the next round
                item = s.get(Item, proposal.item_id)
                item.current_label = revisions[0].old_label


def test_a_curator_undoes_only_their_own_change(world, app, client):
    heads = {name: curator(client, world, name) for name in ("cora", "cyd")}
    proposal_id = _proposal(world)
    item_id = world.alpha_items[0]
    before = world.item_labels[item_id]
    r = client.post(f"/api/v1/relabel/{proposal_id}/decision", headers=heads["cora"],
                    json={"action": "accept"})
    assert r.status_code == 200
    services = app.state.services
    cyd = auth.authenticate(world.settings, heads["cyd"]["Authorization"].split()[1])
    with pytest.raises(Conflict, match="made by cora, not by cyd"):
        staff.curator_undo(services, cyd, item_id=item_id)
    cora = auth.authenticate(world.settings, heads["cora"]["Authorization"].split()[1])
    assert staff.curator_undo(services, cora, item_id=item_id)["new_label"] == before
    with unit_of_work(world.settings) as s:
        assert s.get(Item, item_id).current_label == before
        assert s.get(RelabelProposal, proposal_id).status == "open"
