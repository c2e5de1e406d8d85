"""Builders for the rater app's tests: a dataset, a model's predictions and explanations (rows and
artifact PNGs written directly, no training), two open studies and invites."""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from tests.helpers.builders import make_image_dataset
from trustlab.config import Settings
from trustlab.db.engine import unit_of_work
from trustlab.db.queries.items import get_item, list_items
from trustlab.db.schema import Explanation, ModelVersion, Prediction, Study, StudyItem
from trustlab.platform.accounts.invites import create_invites

CLASSES = ("square", "disc")


def png_bytes(seed: int, size: int = 32, width: int | None = None) -> bytes:
    rng = np.random.default_rng(seed)
    array = rng.integers(0, 255, size=(size, width or size, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()


def _pixels(settings: Settings, item) -> np.ndarray:
    with Image.open(settings.images_dir / item.path) as image:
        return np.asarray(image.convert("RGB"))


def gradcam_like_png(settings: Settings, item) -> bytes:
    """A heatmap overlay (explain's renderer) peaking on the shape, as Grad-CAM would."""
    from trustlab.explain.render import heatmap_overlay

    pixels = _pixels(settings, item)
    yy, xx = np.mgrid[0 : pixels.shape[0], 0 : pixels.shape[1]]
    centre = pixels.shape[0] * 0.45
    saliency = np.exp(-((yy - centre) ** 2 + (xx - centre) ** 2) / (2 * (pixels.shape[0] / 5) ** 2))
    buffer = io.BytesIO()
    heatmap_overlay(pixels, saliency).save(buffer, format="PNG")
    return buffer.getvalue()


def twins_png(settings: Settings, item, neighbours) -> bytes:
    from trustlab.explain.render import twins_strip

    tiles = [(_pixels(settings, t), t.current_label, sim) for t, sim in neighbours]
    buffer = io.BytesIO()
    twins_strip(_pixels(settings, item), tiles).save(buffer, format="PNG")
    return buffer.getvalue()


def write_artifact(settings: Settings, data: bytes) -> str:
    sha = hashlib.sha256(data).hexdigest()
    rel = f"{sha[:2]}/{sha}.png"
    path = settings.artifacts_dir / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return rel


def study_config(
    name: str,
    *,
    conditions,
    n: int,
    per_rater: int,
    raters_per_item: int = 2,
    blind: bool = True,
    tasks=("verify", "true_label", "trust", "comment"),
    **extra,
) -> dict:
    return {
        "name": name,
        "dataset": "shapes",
        "model": "cnn",
        "items": {"split": "test", "n": n, "model_errors": None},
        "conditions": list(conditions),
        "design": "within",
        "raters_per_item": raters_per_item,
        "items_per_rater": per_rater,
        "tasks": list(tasks),
        "likert_points": 5,
        "show_prediction": True,
        "hide_condition": blind,
        "gold": {"n": 0, "max_failures": 1},
        "seed": 0,
        **extra,
    }


@dataclass
class World:
    settings: Settings
    dataset_id: int
    model_version_id: int
    item_labels: dict[int, str]
    predicted: dict[int, str]
    alpha_items: list[int]
    beta_items: list[int]
    studies: dict[str, int] = field(default_factory=dict)

    def add_study(
        self, config: dict, item_ids: list[int], status: str = "open", *, gold_ids: list[int] = ()
    ) -> int:
        """A study row on ``item_ids``, plus ``gold_ids`` as gold items (their gold answer: the model's
        verification and the true label)."""
        with unit_of_work(self.settings) as s:
            study = Study(
                name=config["name"],
                dataset_id=self.dataset_id,
                model_version_id=self.model_version_id,
                config=config,
                status=status,
            )
            s.add(study)
            s.flush()
            s.add_all([self._study_item(study.id, i) for i in item_ids])
            s.add_all([self._study_item(study.id, i, gold=True) for i in gold_ids])
            s.commit()
            self.studies[config["name"]] = study.id
            return study.id

    def _study_item(self, study_id: int, item_id: int, *, gold: bool = False) -> StudyItem:
        correct = self.predicted[item_id] == self.item_labels[item_id]
        row = StudyItem(study_id=study_id, item_id=item_id, model_correct=correct)
        if gold:
            row.is_gold = True
            row.gold_answers = {"model_correct": correct, "true_label": self.item_labels[item_id]}
        return row

    def invite(self, study: str, n: int = 1) -> list[str]:
        return [link.token for link in create_invites(self.settings, study=study, n=n)]


def build_world(settings: Settings, *, explanations: bool = True, realistic: bool = False) -> World:
    """realistic: render overlays with explain's renderer (slower; for the browser test's screenshot)
    instead of random PNGs."""
    dataset_id = make_image_dataset(settings, classes=CLASSES, per_class={"train": 2, "test": 6})
    with unit_of_work(settings) as s:
        test_items = list_items(s, dataset_id=dataset_id, split="test")
        train_items = list_items(s, dataset_id=dataset_id, split="train")
        mv = ModelVersion(
            name="cnn",
            dataset_id=dataset_id,
            arch="simple_cnn",
            checkpoint_path="none",
            checkpoint_sha256="0" * 64,
            class_names=list(CLASSES),
            img_size=32,
        )
        s.add(mv)
        s.flush()
        labels, predicted = {}, {}
        for k, item in enumerate(test_items):
            wrong = k % 3 == 0  # a third of the predictions are model errors
            other = CLASSES[1 - CLASSES.index(item.current_label)]
            label = other if wrong else item.current_label
            labels[item.id], predicted[item.id] = item.current_label, label
            p = CLASSES.index(label)
            probs = [0.2, 0.2]
            probs[p] = 0.8
            pred = Prediction(
                model_version_id=mv.id,
                item_id=item.id,
                kind="holdout",
                probabilities=probs,
                predicted_label=label,
                confidence=0.8,
            )
            s.add(pred)
            s.flush()
            if explanations:
                s.add(
                    Explanation(
                        prediction_id=pred.id,
                        method="gradcam",
                        params_key="default",
                        overlay_path=write_artifact(
                            settings, gradcam_like_png(settings, item) if realistic else png_bytes(item.id)
                        ),
                    )
                )
                neighbours = [
                    {"item_id": t.id, "similarity": 0.9 - 0.1 * j, "label": t.current_label}
                    for j, t in enumerate(train_items[:3])
                ]
                s.add(
                    Explanation(
                        prediction_id=pred.id,
                        method="twin",
                        params_key="default",
                        overlay_path=write_artifact(
                            settings,
                            twins_png(
                                settings, item, [(t, 0.9 - 0.1 * j) for j, t in enumerate(train_items[:3])]
                            )
                            if realistic
                            else png_bytes(1000 + item.id, width=96),
                        ),
                        neighbours=neighbours,
                    )
                )
        s.commit()
    ids = sorted(labels)
    world = World(
        settings=settings,
        dataset_id=dataset_id,
        model_version_id=mv.id,
        item_labels=labels,
        predicted=predicted,
        alpha_items=ids[:6],
        beta_items=ids[6:],
    )
    world.add_study(
        study_config("alpha", conditions=["none", "gradcam", "twin"], n=6, per_rater=3), world.alpha_items
    )
    world.add_study(
        study_config("beta", conditions=["gradcam"], n=6, per_rater=2, blind=False), world.beta_items
    )
    return world


def twins_pictures(world, item_id: int) -> tuple[np.ndarray, np.ndarray]:
    """(the twins strip as rendered with the neighbours' classes printed, the same without them)."""
    from trustlab.db.queries.explanations import get_explanation
    from trustlab.db.queries.predictions import get_prediction
    from trustlab.explain.render import twins_strip

    def read(path: str) -> np.ndarray:
        with Image.open(world.settings.images_dir / path) as image:
            return np.asarray(image.convert("RGB"))

    with unit_of_work(world.settings) as s:
        prediction = get_prediction(s, model_version_id=world.model_version_id, item_id=item_id)
        row = get_explanation(s, prediction_id=prediction.id, method="twin")
        query = read(get_item(s, item_id=item_id).path)
        tiles = [
            (read(get_item(s, item_id=n["item_id"]).path), n["label"], n["similarity"])
            for n in row.neighbours
        ]
    labelled = np.asarray(twins_strip(query, tiles))
    unlabelled = np.asarray(twins_strip(query, [(p, "", sim) for p, _, sim in tiles]))
    return labelled, unlabelled
