"""Which predictions are out-of-sample: the rule relabelling and calibration rely on."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from trustlab.db.queries.predictions import predictions_with_split

CROSSVAL = "crossval"
HOLDOUT = "holdout"
TRAIN_SPLIT = "train"
VAL_SPLIT = "val"
# training_config["val_source"] of a model whose validation items were carved out of the train split.
CARVED = "carved"


def carved_val_ids(training_config: dict | None) -> frozenset[int]:
    """Ids of the train-split items a model held out for validation (empty when it used a val split)."""
    config = training_config or {}
    return frozenset(int(i) for i in config.get("val_item_ids", ())) if config.get("val_source") == CARVED \
        else frozenset()


def dataset_split_for(split: str, carved: frozenset[int]) -> str:
    """The dataset split that holds the model's ``split`` items: a carved val part lives in train."""
    return TRAIN_SPLIT if carved and split == VAL_SPLIT else split


def select_as_trained(items: Sequence[Any], split: str, carved: frozenset[int]) -> list[Any]:
    """The model's ``split`` items among ``items`` (the dataset's ``dataset_split_for(split)`` items):
    with a carved validation part, VAL_SPLIT is the carved items and TRAIN_SPLIT the ones it trained on."""
    if not carved or split not in (TRAIN_SPLIT, VAL_SPLIT):
        return list(items)
    return [item for item in items if (item.id in carved) == (split == VAL_SPLIT)]


def out_of_sample_predictions(
    session: Any, *, model_version_id: int, item_ids: Iterable[int] | None = None,
    held_out_ids: Iterable[int] = (),
) -> dict[int, Any]:
    """{item_id: Prediction} with probabilities the model computed without training on the item.

    Cross-validated predictions are preferred; a holdout prediction counts only for items outside the
    training split (val/test), because on train items it is in-sample and over-confident, and for the
    train items in ``held_out_ids`` (a validation part carved from train: ``carved_val_ids``).
    """
    held_out = set(held_out_ids)
    out: dict[int, Any] = {}
    for prediction, split in predictions_with_split(
        session, model_version_id=model_version_id, kinds=(CROSSVAL, HOLDOUT), item_ids=item_ids
    ):
        if prediction.kind == HOLDOUT and split == TRAIN_SPLIT and prediction.item_id not in held_out:
            continue
        if prediction.kind == CROSSVAL or prediction.item_id not in out:
            out[prediction.item_id] = prediction
    return out
