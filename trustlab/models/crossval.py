"""`trustlab predict --cross-val K`: out-of-sample probabilities for every train and val item.

The train and val items are pooled and split into K stratified folds; for each fold a fresh model
with the same architecture and training config is trained on the other folds, and its probabilities
for the held-out fold are stored as kind="crossval" Predictions of the original model version.
Each fold trains for a fixed number of epochs (the original model's best epoch unless given), since
early stopping on the held-out fold would leak it into training.

Why not a linear probe on the trained model's embeddings (one forward pass instead of K trainings)?
That model trained on the very labels under test and memorises the flipped ones: on digits with 6%
planted flips, a probe on its penultimate features agreed with the given labels on exactly 94% of
the items and cleanlab flagged 2 of 1,797 (recall 0.00). A probe is only out-of-sample on
embeddings of a network that never saw these labels (a pretrained backbone).
"""

from __future__ import annotations

import time
from collections import Counter

import numpy as np
import torch
from sklearn.model_selection import StratifiedKFold

from trustlab.config import Settings
from trustlab.db.engine import unit_of_work
from trustlab.db.queries.items import list_items
from trustlab.db.queries.models import get_model_version, set_metrics
from trustlab.db.queries.predictions import add_predictions, list_predictions, predicted_item_ids
from trustlab.db.schema import ModelVersion
from trustlab.models.checkpoint import load_model, pick_device
from trustlab.models.config import AugmentConfig, FitConfig
from trustlab.models.datasets import ItemImages, item_label, prepare
from trustlab.models.errors import DataError, ModelError
from trustlab.models.fit import fit
from trustlab.models.imported_kinds import is_imported
from trustlab.models.predict import CROSSVAL, PredictSummary, prediction_rows
from trustlab.models.train import make_model

CROSSVAL_SPLITS = ("train", "val")
MIN_FOLDS = 2
DEFAULT_FOLDS = 5
# Models whose training_config lacks these were trained with them (the defaults of the time).
UNRECORDED_BATCH_SIZE = 32
UNRECORDED_LR = 1e-3


def _fold_probabilities(model, images: torch.Tensor, *, mean, std, device, batch_size: int) -> np.ndarray:
    model.eval()
    parts = []
    with torch.no_grad(), torch.autocast(device.type, enabled=device.type == "cuda"):
        for start in range(0, len(images), batch_size):
            x = prepare(images[start:start + batch_size], mean, std, device)
            parts.append(torch.softmax(model(x).float(), dim=1).double().cpu().numpy())
    return np.concatenate(parts)


def crossval_predict(
    settings: Settings,
    *,
    model: str,
    k: int = DEFAULT_FOLDS,
    epochs: int | None = None,
    device: str | None = None,
    progress: bool = True,
) -> PredictSummary:
    """Store kind="crossval" probabilities for every train and val item of ``model``'s dataset.

    k: number of stratified folds (2 <= k <= the smallest class count).
    epochs: epochs per fold; default the original model's best epoch.
    Resumable: folds whose items all have crossval predictions are skipped (folds are seeded).
    Records folds, epochs, seconds and the out-of-sample accuracy against the given labels in
    ModelVersion.metrics["crossval"].
    """
    if k < MIN_FOLDS:
        raise DataError(f"--cross-val needs at least {MIN_FOLDS} folds, got {k}")
    loaded = load_model(settings, model, device="cpu")
    with unit_of_work(settings) as session:
        version = get_model_version(session, name=model)
        items = list_items(session, dataset_id=version.dataset_id, split=list(CROSSVAL_SPLITS))
        done = predicted_item_ids(session, model_version_id=version.id, kind=CROSSVAL)
    _check_foldable(version, items, k=k)
    if all(item.id in done for item in items):
        return PredictSummary(model=model, kind=CROSSVAL, added=0, skipped=len(items))
    fit_config = recorded_fit_config(version, epochs=epochs)
    started = time.perf_counter()
    data = ItemImages(settings, items, loaded.class_names, img_size=loaded.img_size,
                      labels=version.labels_source)
    folds = StratifiedKFold(n_splits=k, shuffle=True, random_state=fit_config.seed)
    target = pick_device(device)
    added = 0
    for fold, (train_idx, held_idx) in enumerate(folds.split(np.zeros(len(data)), data.targets.numpy())):
        held = [i for i in held_idx if items[i].id not in done]
        if not held:
            continue
        net = _fit_fold(version, loaded, data, torch.as_tensor(train_idx), fit_config=fit_config, fold=fold,
                        device=target, label=f"fold {fold + 1}/{k}" if progress else None)
        probs = _fold_probabilities(net, data.images[torch.as_tensor(held)], mean=loaded.mean,
                                    std=loaded.std, device=target, batch_size=fit_config.batch_size)
        rows = prediction_rows(version.id, [items[i].id for i in held], probs, loaded.class_names,
                               kind=CROSSVAL)
        with unit_of_work(settings) as session:
            add_predictions(session, predictions=rows)
        added += len(rows)
    _record(settings, version, k=k, epochs=fit_config.epochs, seconds=time.perf_counter() - started)
    return PredictSummary(model=model, kind=CROSSVAL, added=added, skipped=len(items) - added)


def _check_foldable(version: ModelVersion, items: list, *, k: int) -> None:
    """DataError/ModelError unless ``version`` can be retrained and every class fills ``k`` folds."""
    model = version.name
    if is_imported(version.arch):
        raise ModelError(f"--cross-val retrains the model on each fold, but model {model!r} was imported "
                         f"({version.arch}) and cannot be retrained here: use `trustlab predict` instead")
    if not items:
        raise DataError(f"the dataset of model {model!r} has no train or val items to cross-validate")
    counts = Counter(item_label(item, version.labels_source) for item in items)
    if min(counts.values()) < k:
        smallest = min(counts, key=counts.get)
        raise DataError(f"class {smallest!r} has only {counts[smallest]} train/val items, fewer than "
                        f"--cross-val {k} folds: use --cross-val {max(MIN_FOLDS, counts[smallest])} or less")


def recorded_fit_config(version: ModelVersion, *, epochs: int | None = None) -> FitConfig:
    """The schedule ``version`` was trained with (its training_config), for ``epochs`` epochs (default:
    its best epoch). Keys a config lacks take the values trustlab trained with before it recorded them."""
    config = version.training_config or {}
    best_epoch = (version.history or {}).get("best_epoch") or config.get("epochs", 1)
    return FitConfig(
        epochs=epochs or max(1, int(best_epoch)),
        batch_size=int(config.get("batch_size", UNRECORDED_BATCH_SIZE)),
        lr=float(config.get("lr", UNRECORDED_LR)),
        weight_decay=float(config.get("weight_decay", FitConfig.weight_decay)),
        seed=int(config.get("seed", 0)),
        augment=AugmentConfig(**config.get("augment", {})),
    )


def _fit_fold(version: ModelVersion, loaded, data: ItemImages, train_idx: torch.Tensor, *,
              fit_config: FitConfig, fold: int, device: torch.device, label: str | None) -> torch.nn.Module:
    """A fresh model of ``version``'s architecture trained on one fold's training part."""
    config = version.training_config or {}
    net = make_model(version.arch, len(loaded.class_names), weights=config.get("weights"),
                     freeze=bool(config.get("freeze_backbone")), seed=fit_config.seed + fold,
                     img_size=loaded.img_size)
    fit(net, (data.images[train_idx], data.targets[train_idx]), None, config=fit_config,
        mean=loaded.mean, std=loaded.std, device=device, label=label)
    return net


def _record(settings: Settings, version: ModelVersion, *, k: int, epochs: int, seconds: float) -> None:
    """ModelVersion.metrics["crossval"]: how the stored out-of-sample probabilities were made, and their
    accuracy against the labels the model was trained on."""
    with unit_of_work(settings) as session:
        stored = list_predictions(session, model_version_id=version.id, kind=CROSSVAL)
        items = {item.id: item for item in list_items(session, dataset_id=version.dataset_id,
                                                        split=list(CROSSVAL_SPLITS))}
        correct = [p.predicted_label == item_label(items[p.item_id], version.labels_source)
                   for p in stored if p.item_id in items]
        set_metrics(session, model_version_id=version.id, split=CROSSVAL, metrics={
            "folds": k, "epochs": epochs, "n": len(correct), "seconds": round(seconds, 3),
            "accuracy": float(np.mean(correct)) if correct else None,
        })
