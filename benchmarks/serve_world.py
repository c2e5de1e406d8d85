"""The throw-away world bench_serve.py rates: a dataset of small PNGs, a model's predictions,
precomputed Grad-CAM and twin explanations, and an open study with conditions none/gradcam/twin."""

from __future__ import annotations

import hashlib
import io
import math
from pathlib import Path

import numpy as np
from PIL import Image

from trustlab.config import Settings
from trustlab.db.engine import unit_of_work
from trustlab.db.queries.datasets import get_or_create_dataset
from trustlab.db.queries.items import add_items
from trustlab.db.queries.labels import ensure_labels
from trustlab.db.schema import Explanation, Item, ModelVersion, Prediction

CLASSES = ("phone", "email", "url", "none")
CONDITIONS = ["none", "gradcam", "twin"]
RATERS_PER_ITEM = 5
MODEL_ERROR_RATE = 0.3
IMAGE_PX = 64
ITEM_MARGIN = 1.25


def _png(rng: np.random.Generator, width: int = IMAGE_PX) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(rng.integers(0, 255, size=(IMAGE_PX, width, 3), dtype=np.uint8)).save(
        buffer, format="PNG"
    )
    return buffer.getvalue()


def _store(folder: Path, data: bytes) -> str:
    sha = hashlib.sha256(data).hexdigest()
    rel = f"{sha[:2]}/{sha}.png"
    (folder / rel).parent.mkdir(parents=True, exist_ok=True)
    (folder / rel).write_bytes(data)
    return rel


def _add_items(s, settings: Settings, rng: np.random.Generator, dataset_id: int, n_items: int) -> list[Item]:
    """``n_items`` random PNGs in the test split, labels cycling through the classes."""
    rows = []
    for k in range(n_items):
        rel = _store(settings.images_dir, _png(rng))
        label = CLASSES[k % len(CLASSES)]
        rows.append(
            Item(
                dataset_id=dataset_id,
                path=rel,
                source_path=rel,
                sha256=rel[3:67],
                width=IMAGE_PX,
                height=IMAGE_PX,
                split="test",
                original_label=label,
                current_label=label,
            )
        )
    add_items(s, items=rows)
    return rows


def _add_model(s, dataset_id: int) -> ModelVersion:
    """A model version without a checkpoint: the benchmark never runs it."""
    model = ModelVersion(
        name="bench-cnn",
        dataset_id=dataset_id,
        arch="simple_cnn",
        checkpoint_path="none",
        checkpoint_sha256="0" * 64,
        class_names=list(CLASSES),
        img_size=IMAGE_PX,
    )
    s.add(model)
    s.flush()
    return model


def _add_predictions(
    s, settings: Settings, rng: np.random.Generator, model: ModelVersion, rows: list[Item]
) -> None:
    """Per item: a holdout prediction (wrong at MODEL_ERROR_RATE) with a Grad-CAM and a twin strip, so
    the server never computes an explanation while it is measured."""
    for k, item in enumerate(rows):
        wrong = rng.random() < MODEL_ERROR_RATE
        label = CLASSES[(k + 1) % len(CLASSES)] if wrong else item.current_label
        probs = [0.1] * len(CLASSES)
        probs[CLASSES.index(label)] = 0.7
        pred = Prediction(
            model_version_id=model.id,
            item_id=item.id,
            kind="holdout",
            probabilities=probs,
            predicted_label=label,
            confidence=0.7,
        )
        s.add(pred)
        s.flush()
        s.add(
            Explanation(
                prediction_id=pred.id,
                method="gradcam",
                params_key="bench",
                overlay_path=_store(settings.artifacts_dir, _png(rng)),
            )
        )
        s.add(
            Explanation(
                prediction_id=pred.id,
                method="twin",
                params_key="bench",
                overlay_path=_store(settings.artifacts_dir, _png(rng, width=4 * IMAGE_PX)),
                neighbours=[{"item_id": rows[0].id, "similarity": 0.9, "label": CLASSES[0]}],
            )
        )


def _study_config(*, n_items: int, raters: int, items_per_rater: int, link: bool) -> dict:
    """The study YAML as a dict; ``link`` makes it a link study with room for ``raters`` participants."""
    config = {
        "name": "bench",
        "dataset": "bench",
        "model": "bench-cnn",
        "items": {"split": "test", "n": n_items, "model_errors": MODEL_ERROR_RATE},
        "conditions": CONDITIONS,
        "design": "within",
        "raters_per_item": RATERS_PER_ITEM,
        "items_per_rater": items_per_rater,
        "tasks": ["verify", "true_label", "trust"],
        "likert_points": 7,
        "show_prediction": True,
        "hide_condition": True,
        "gold": {"n": 0},
        "seed": 0,
    }
    if link:
        config["recruitment"] = {"mode": "link", "platform": "prolific", "max_participants": raters}
    return config


def build_study(settings: Settings, *, raters: int, items_per_rater: int, link: bool = False) -> str:
    """Dataset, predictions, precomputed explanations and an open study; returns the study name.
    ``link``: a public-link study (Prolific parameters, room for ``raters`` participants) instead of
    one with single-use invites."""
    from trustlab.studies.design.create import create_study, open_study

    # Spare room so that late arrivals still get full lists under the raters_per_item cap.
    n_items = math.ceil(raters * items_per_rater * ITEM_MARGIN / RATERS_PER_ITEM)
    rng = np.random.default_rng(0)
    settings.ensure_dirs()
    with unit_of_work(settings) as s:
        dataset = get_or_create_dataset(s, name="bench")
        ensure_labels(s, dataset_id=dataset.id, names=CLASSES)
        rows = _add_items(s, settings, rng, dataset.id, n_items)
        model = _add_model(s, dataset.id)
        _add_predictions(s, settings, rng, model, rows)
        s.commit()
    config = _study_config(n_items=n_items, raters=raters, items_per_rater=items_per_rater, link=link)
    create_study(settings, config, allow_unbalanced=True)  # sized for load, not for balance
    open_study(settings, "bench")
    return "bench"
