"""`trustlab predict`: batched inference into Prediction rows, resumable (skips items already done)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from trustlab.config import Settings
from trustlab.db.engine import unit_of_work
from trustlab.db.queries.items import list_items
from trustlab.db.queries.models import get_model_version
from trustlab.db.queries.predictions import add_predictions, predicted_item_ids
from trustlab.db.schema import Prediction
from trustlab.models.checkpoint import load_model
from trustlab.models.errors import DataError
from trustlab.models.infer import DEFAULT_BATCH_SIZE, iter_probabilities
from trustlab.models.out_of_sample import carved_val_ids, dataset_split_for, select_as_trained

PREDICT_SPLITS = ("train", "val", "test", "all")
HOLDOUT = "holdout"
CROSSVAL = "crossval"


@dataclass
class PredictSummary:
    model: str
    kind: str
    added: int
    skipped: int


def prediction_rows(model_version_id: int, item_ids, probs: np.ndarray, class_names, *,
                    kind: str) -> list[Prediction]:
    """Prediction rows from probabilities [N, C] (columns in class_names order)."""
    rows = []
    for item_id, p in zip(item_ids, probs, strict=True):
        best = int(np.argmax(p))
        rows.append(Prediction(model_version_id=model_version_id, item_id=int(item_id), kind=kind,
                               probabilities=[float(v) for v in p], predicted_label=class_names[best],
                               confidence=float(p[best])))
    return rows


def predict_model(
    settings: Settings,
    *,
    model: str,
    split: str = "test",
    batch_size: int = DEFAULT_BATCH_SIZE,
    device: str | None = None,
    progress: bool = True,
) -> PredictSummary:
    """Store kind="holdout" predictions of ``model`` for the items of ``split`` ("all": every split).

    Items that already have a holdout prediction are skipped, and each batch is committed, so an
    interrupted run resumes where it stopped and a repeated run adds nothing. For a model with a carved
    validation part, "val" and "train" are the model's parts (see evaluate.evaluate_model).
    """
    if split not in PREDICT_SPLITS:
        raise DataError(f"--split must be one of {', '.join(PREDICT_SPLITS)}, got {split!r}")
    with unit_of_work(settings) as session:
        version = get_model_version(session, name=model)
        carved = carved_val_ids(version.training_config)
        items = list_items(session, dataset_id=version.dataset_id,
                           split=None if split == "all" else dataset_split_for(split, carved))
        done = predicted_item_ids(session, model_version_id=version.id, kind=HOLDOUT)
    items = select_as_trained(items, split, carved)
    if not items:
        raise DataError(f"the dataset of model {model!r} has no items in split {split!r}")
    todo = [item for item in items if item.id not in done]
    if not todo:
        return PredictSummary(model=model, kind=HOLDOUT, added=0, skipped=len(items))
    loaded = load_model(settings, model, device=device)
    added = 0
    for chunk, probs in iter_probabilities(loaded, todo, batch_size=batch_size, progress=progress,
                                           desc=f"predict {model}"):
        rows = prediction_rows(loaded.model_version_id, [i.id for i in chunk], probs,
                               loaded.class_names, kind=HOLDOUT)
        with unit_of_work(settings) as session:
            add_predictions(session, predictions=rows)
        added += len(rows)
    return PredictSummary(model=model, kind=HOLDOUT, added=added, skipped=len(items) - len(todo))
