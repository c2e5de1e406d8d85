"""Which predictions are out-of-sample: the rule relabelling and calibration rely on."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from trustlab.db.queries.predictions import predictions_with_split

CROSSVAL = "crossval"
HOLDOUT = "holdout"
TRAIN_SPLIT = "train"


def out_of_sample_predictions(
    session: Any, *, model_version_id: int, item_ids: Iterable[int] | None = None
) -> dict[int, Any]:
    """{item_id: Prediction} with probabilities the model computed without training on the item.

    Cross-validated predictions are preferred; a holdout prediction counts only for items outside the
    training split (val/test), because on train items it is in-sample and over-confident.
    """
    out: dict[int, Any] = {}
    for prediction, split in predictions_with_split(
        session, model_version_id=model_version_id, kinds=(CROSSVAL, HOLDOUT), item_ids=item_ids
    ):
        if prediction.kind == HOLDOUT and split == TRAIN_SPLIT:
            continue
        if prediction.kind == CROSSVAL or prediction.item_id not in out:
            out[prediction.item_id] = prediction
    return out
