"""No leaks: a simulate study cannot show the prediction; with the prediction hidden no
payload field, title, neighbour label or picture states the predicted class; a blinded condition
carries nothing that names the method or its family. Over the REST API, on both backends."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from tests.helpers.platform_world import CLASSES, study_config, twins_pictures
from trustlab.platform.app import create_app
from trustlab.platform.content.worker import ExplanationWorker
from trustlab.studies.config.study import StudyConfigError, load_study_config
from trustlab.studies.design.create import create_study

METHOD_WORDS = ("gradcam", "grad-cam", "twin", "heatmap", "examples", "regions", "similar training")


def no_explainer(settings, *, model, item_ids, methods):
    raise RuntimeError("every explanation is precomputed in this test")


@pytest.fixture
def client(world):
    app = create_app(
        world.settings, ui=False, worker=ExplanationWorker(world.settings, explain_fn=no_explainer)
    )
    with TestClient(app) as c:
        yield c


def simulate_study(world, name: str, *, blind: bool, conditions=("gradcam+twin",)) -> str:
    config = study_config(
        name, conditions=list(conditions), n=6, per_rater=3, blind=blind, tasks=("simulate", "trust")
    )
    config["show_prediction"] = False
    world.add_study(config, world.alpha_items)
    return name


def rater(client, world, study: str) -> dict:
    token = client.post("/api/v1/invites/accept", json={"invite": world.invite(study)[0]}).json()["token"]
    return {"Authorization": f"Bearer {token}"}


def test_simulate_with_the_prediction_on_screen_is_refused(sqlite_settings):
    config = study_config("s", conditions=["none"], n=2, per_rater=1, tasks=("simulate",))
    with pytest.raises(StudyConfigError) as info:
        load_study_config(config)
    assert "simulate" in str(info.value) and "show_prediction" in str(info.value)
    with pytest.raises(StudyConfigError, match="show_prediction: false"):
        create_study(sqlite_settings, config)
    assert load_study_config({**config, "show_prediction": False}).tasks == ["simulate"]


def pixels(data: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as image:
        return np.asarray(image.convert("RGB"))


@pytest.mark.parametrize("blind", [True, False])
def test_hidden_prediction_is_stated_nowhere(world, client, blind):
    study = simulate_study(world, f"sim-{blind}", blind=blind)
    h = rater(client, world, study)
    for step in range(3):
        payload = client.get(f"/api/v1/studies/{study}/next", headers=h).json()
        assert "prediction" not in payload
        [choice] = [q for q in payload["questions"] if q["key"] == "simulated_label"]
        assert choice["options"] == list(CLASSES)  # the classes appear only as the question's options
        rest = json.dumps({k: v for k, v in payload.items() if k != "questions"}).lower()
        for word in (*CLASSES, "predicted", "class"):
            assert word not in rest, f"payload states {word!r}: {rest}"
        gradcam, twin = payload["explanations"]
        if blind:  # the picture alone: a neighbour list would name the method's family
            assert "neighbours" not in twin
        else:
            assert [n.keys() for n in twin["neighbours"]] == [{"similarity"}] * 3
        if blind:
            assert "condition" not in payload and all("kind" not in e for e in payload["explanations"])
            assert [e["title"] for e in payload["explanations"]] == ["Explanation 1", "Explanation 2"]
            for word in METHOD_WORDS:
                assert word not in rest, f"blinded payload names {word!r}"
        else:
            assert twin["title"] == "Similar training images" and twin["kind"] == "examples"
        served = pixels(client.get(twin["image_url"], headers=h).content)
        labelled, unlabelled = twins_pictures(world, payload["item_id"])
        assert np.array_equal(served, unlabelled) and not np.array_equal(served, labelled)
        answer = {"simulated_label": CLASSES[step % 2], "trust": 3}
        body = {
            "assignment_id": payload["assignment_id"],
            "answers": answer,
            "idempotency_key": f"{blind}{step}",
        }
        assert client.post("/api/v1/judgements", json=body, headers=h).status_code == 201


def test_shown_prediction_keeps_the_twins_classes(world, client):
    h = rater(client, world, "alpha")  # alpha shows the prediction (and is blinded)
    for _ in range(3):
        payload = client.get("/api/v1/studies/alpha/next", headers=h).json()
        for expl in payload["explanations"]:
            if "neighbours" in expl:
                assert all(n["label"] in CLASSES for n in expl["neighbours"])
                assert expl["title"] == "The explanation" and "kind" not in expl
        body = {
            "assignment_id": payload["assignment_id"],
            "answers": {"model_correct": True, "true_label": "square", "trust": 4},
            "idempotency_key": f"a{payload['assignment_id']}",
        }
        assert client.post("/api/v1/judgements", json=body, headers=h).status_code == 201
