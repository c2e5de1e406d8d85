"""Builders for the staff tabs' tests: a study rated to the end through the REST API, relabel proposals."""

from __future__ import annotations

from fastapi.testclient import TestClient

from trustlab.db.engine import unit_of_work
from trustlab.db.schema import RelabelProposal
from trustlab.platform.app import create_app
from trustlab.platform.routes import API_PREFIX


def rate_to_the_end(world, study: str = "alpha", raters: int = 6) -> int:
    """Raters join ``study`` by invite and answer until it has no item left for a new rater; each rater
    gets one verification wrong in three (so conditions differ a little). Returns the judgements given."""
    given = 0
    with TestClient(create_app(world.settings, ui=False)) as client:
        for r in range(raters):
            invite = world.invite(study)[0]
            accepted = client.post(f"{API_PREFIX}/invites/accept", json={"invite": invite, "pid": f"P-{r}"})
            head = {"Authorization": f"Bearer {accepted.json()['token']}"}
            while True:
                response = client.get(f"{API_PREFIX}/studies/{study}/next", headers=head)
                if response.status_code != 200 or "assignment_id" not in response.json():
                    break  # this rater is done (204), or the study has no item left for them
                item = response.json()
                truth = world.item_labels[item["item_id"]]
                right = world.predicted[item["item_id"]] == truth
                verdict = right if (r + given) % 3 else not right
                answers = {"model_correct": verdict, "true_label": truth, "trust": 1 + (r + given) % 5}
                body = {"assignment_id": item["assignment_id"], "idempotency_key": f"s{r}-{given}",
                        "answers": answers}
                assert client.post(f"{API_PREFIX}/judgements", headers=head, json=body).status_code == 201
                given += 1
    return given


def add_many_proposals(world, n: int, *, votes: bool = True) -> list[int]:
    """``n`` open proposals over the test world's items (several per item when n is large), best first."""
    items = world.alpha_items + world.beta_items
    with unit_of_work(world.settings) as s:
        rows = []
        for k in range(n):
            item_id = items[k % len(items)]
            current = world.item_labels[item_id]
            proposed = "disc" if current == "square" else "square"
            evidence = {"votes": {proposed: 3, current: 1}} if votes else {}
            rows.append(RelabelProposal(dataset_id=world.dataset_id, item_id=item_id, current_label=current,
                                        proposed_label=proposed, score=1.0 - k / (n + 1), method="majority",
                                        evidence=evidence))
        s.add_all(rows)
        s.commit()
        return [r.id for r in rows]
