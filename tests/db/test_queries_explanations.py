"""Inserts that lose a race on a unique constraint return the winner's row, inside a unit that goes
on (a savepoint, not a rollback of the whole unit)."""

from __future__ import annotations

from tests.helpers.query_world import make_query_world
from trustlab.db.engine import read_session, unit_of_work
from trustlab.db.queries.datasets import find_dataset, get_or_create_dataset
from trustlab.db.queries.explanations import add_explanation, find_explanations
from trustlab.db.queries.predictions import add_predictions_if_missing, list_predictions
from trustlab.db.schema import Explanation, Prediction


def test_add_explanation_that_lost_the_race_returns_the_winner(settings):
    world = make_query_world(settings)
    pid = world.prediction_ids[0]
    with unit_of_work(settings) as s:
        winner = add_explanation(s, explanation=Explanation(
            prediction_id=pid, method="gradcam", params_key="k", overlay_path="winner.png"))
    with unit_of_work(settings) as s:
        get_or_create_dataset(s, name="written-before")  # the unit's own work survives the lost race
        row = add_explanation(s, explanation=Explanation(
            prediction_id=pid, method="gradcam", params_key="k", overlay_path="loser.png"))
        assert row.id == winner.id and row.overlay_path == "winner.png"
        get_or_create_dataset(s, name="written-after")
    with read_session(settings) as s:
        stored = find_explanations(s, prediction_ids=[pid], method="gradcam", params_key="k")
        assert [e.overlay_path for e in stored.values()] == ["winner.png"]
        assert find_dataset(s, name="written-before") is not None
        assert find_dataset(s, name="written-after") is not None


def test_add_predictions_if_missing_skips_what_another_worker_stored(settings):
    world = make_query_world(settings, n_items=3)

    def rows():
        return [Prediction(model_version_id=world.model_version_id, item_id=i, kind="crossval",
                           probabilities=[0.5, 0.5], predicted_label="cat", confidence=0.5)
                for i in world.item_ids]

    with unit_of_work(settings) as s:
        assert add_predictions_if_missing(s, predictions=rows()[:1]) == 1
    with unit_of_work(settings) as s:
        assert add_predictions_if_missing(s, predictions=rows()) == 2
    with read_session(settings) as s:
        stored = list_predictions(s, model_version_id=world.model_version_id, kind="crossval")
        assert [p.item_id for p in stored] == world.item_ids
