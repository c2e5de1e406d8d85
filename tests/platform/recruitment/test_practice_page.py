"""Practice looks and reads like the study's items: its explanations are headed as the items'
are ("The explanation" in a blinded study, the method's title otherwise, never "explanation 1"), twins
come as their neighbours' pictures, and the feedback gives each right answer in words."""

from __future__ import annotations

import pytest

from tests.helpers.recruit_world import add_link_study, link_config
from trustlab.explanation_methods import METHODS
from trustlab.platform.accounts import auth
from trustlab.platform.recruitment import steps as participant_steps
from trustlab.platform.services.rater import Services


def _participant(world, client, study: str, pid: str = "P-1"):
    body = {"params": {"PROLIFIC_PID": pid, "STUDY_ID": "s", "SESSION_ID": "x"}, "consent": True}
    joined = client.post(f"/api/v1/studies/{study}/join", json=body)
    assert joined.status_code in (200, 201), joined.text
    return joined.json()["token"], auth.authenticate(world.settings, joined.json()["token"])


@pytest.mark.parametrize("blind", [True, False])
def test_practice_explanations_are_headed_as_the_items_are(world, client, blind):
    add_link_study(world, link_config(practice={"n": 1}, hide_condition=blind, conditions=["gradcam"]))
    _, principal = _participant(world, client, "crowd")
    practice = participant_steps.practice_item(Services(world.settings), principal, index=0)
    [shown] = practice["explanations"]
    if blind:  # as disclosure.rater_title heads a blinded item with one explanation
        assert shown["title"] == "The explanation" and "kind" not in shown
    else:
        assert shown["title"] == METHODS["gradcam"].title and shown["kind"] == "heatmap"
    assert "explanation 1" not in shown["title"]


def test_practice_twins_are_their_neighbours_pictures(world, client):
    add_link_study(world, link_config(practice={"n": 1}, hide_condition=False, conditions=["twin"]))
    _, principal = _participant(world, client, "crowd")
    practice = participant_steps.practice_item(Services(world.settings), principal, index=0)
    [twin] = practice["explanations"]
    pictures = twin["neighbour_pictures"]
    assert len(pictures) == 3 and all(p.path.is_file() for p in pictures)
    assert [p.similarity for p in pictures] == pytest.approx([0.9, 0.8, 0.7])
    assert all(p.label in ("square", "disc") for p in pictures)
    # The API's practice item names the heading only (no server paths, no pictures).
    token, _ = _participant(world, client, "crowd", "P-2")
    api = client.get("/api/v1/practice/0", headers={"Authorization": f"Bearer {token}"})
    assert api.json()["explanations"] == [{"title": METHODS["twin"].title}]


def test_practice_feedback_gives_each_right_answer_in_words(world, client):
    add_link_study(world, link_config(practice={"n": 1}))
    token, _ = _participant(world, client, "crowd")
    h = {"Authorization": f"Bearer {token}"}
    item = client.get("/api/v1/practice/0", headers=h).json()
    label = world.item_labels[item["item_id"]]
    right = world.predicted[item["item_id"]] == label
    wrong_label = "disc" if label == "square" else "square"
    answer = {"model_correct": not right, "true_label": wrong_label, "trust": 2}
    feedback = client.post("/api/v1/practice/0/answer", headers=h, json={"answers": answer}).json()
    verdict = "right" if right else "wrong"
    expected = f"Not quite: the model's prediction was {verdict}; the right class is {label}."
    assert feedback["feedback"] == expected
    assert "?" not in feedback["feedback"] and "model_correct" not in feedback["feedback"]
