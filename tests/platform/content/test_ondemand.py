"""On-demand explanations with the real explain_items: a study item without any precomputed
prediction or explanation gets both through the worker when a rater asks for it."""

from __future__ import annotations

import time

import torch
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from tests.helpers.builders import make_image_dataset
from tests.helpers.platform_world import study_config
from trustlab.db.engine import unit_of_work
from trustlab.db.queries.items import list_items
from trustlab.db.schema import Explanation, Study, StudyItem
from trustlab.models.arch import build_model
from trustlab.models.checkpoint import ModelSpec, register_model
from trustlab.models.images import IMAGENET_MEAN, IMAGENET_STD
from trustlab.platform.accounts.invites import create_invites
from trustlab.platform.app import create_app
from trustlab.platform.content.worker import ExplanationWorker

CLASSES = ("square", "disc")


def test_missing_gradcam_is_computed_by_the_real_explainer(sqlite_settings):
    torch.set_num_threads(1)
    settings = sqlite_settings
    dataset_id = make_image_dataset(settings, classes=CLASSES, per_class={"train": 2, "test": 2})
    torch.manual_seed(0)
    version = register_model(settings, name="cnn", dataset_id=dataset_id,
                             module=build_model("simple_cnn", 2).eval(),
                             spec=ModelSpec(arch="simple_cnn", class_names=CLASSES, img_size=32,
                                            mean=IMAGENET_MEAN, std=IMAGENET_STD))
    with unit_of_work(settings) as s:
        items = list_items(s, dataset_id=dataset_id, split="test")[:2]
        study = Study(
            name="live",
            dataset_id=dataset_id,
            model_version_id=version.id,
            status="open",
            config=study_config("live", conditions=["gradcam"], n=2, per_rater=2, blind=False),
        )
        s.add(study)
        s.flush()
        s.add_all([StudyItem(study_id=study.id, item_id=i.id) for i in items])
        s.commit()
    worker = ExplanationWorker(settings)  # the default: trustlab.explain's explain_items
    with TestClient(create_app(settings, ui=False, worker=worker)) as client:
        invite = create_invites(settings, study="live", n=1)[0].token
        token = client.post("/api/v1/invites/accept", json={"invite": invite}).json()["token"]
        h = {"Authorization": f"Bearer {token}"}
        response = client.get("/api/v1/studies/live/next", headers=h)
        for _ in range(600):  # the first explanation loads torch and the model: poll while pending (202)
            if response.status_code != 202:
                break
            time.sleep(0.2)
            response = client.get("/api/v1/studies/live/next", headers=h)
        payload = response.json()
        explanation = payload["explanations"][0]
        assert explanation["method"] == "gradcam" and explanation["image_url"]
        assert payload["prediction"]["label"] in CLASSES  # predicted on the way
        image = client.get(explanation["image_url"], headers=h)
        assert image.status_code == 200 and image.content[:4] == b"\x89PNG"
    worker.close()
    assert worker.calls == [("cnn", "gradcam", [payload["item_id"]])]
    with unit_of_work(settings) as s:
        assert s.scalar(select(func.count()).select_from(Explanation)) == 1
