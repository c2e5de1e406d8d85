"""`trustlab evaluate`: accuracy, per-class precision/recall/F1, confusion matrix, misclassified items."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import confusion_matrix, f1_score, precision_recall_fscore_support

from trustlab.config import Settings
from trustlab.csv_safety import write_csv
from trustlab.db.engine import unit_of_work
from trustlab.db.queries.items import list_items
from trustlab.db.queries.models import get_model_version, set_metrics
from trustlab.db.schema import Dataset, Item
from trustlab.models.checkpoint import LoadedModel, load_model
from trustlab.models.datasets import encode_labels
from trustlab.models.errors import DataError
from trustlab.models.infer import DEFAULT_BATCH_SIZE, predict_probabilities
from trustlab.models.out_of_sample import carved_val_ids, dataset_split_for, select_as_trained
from trustlab.models.plots import plot_confusion

SPLITS = ("train", "val", "test")


@dataclass
class EvalResult:
    """One model on one split. ``predictions`` has one row per item (item_id, path, true_label,
    predicted_label, confidence, correct); ``per_class`` one row per class."""

    model: str
    split: str
    metrics: dict[str, Any]
    per_class: pd.DataFrame
    confusion: np.ndarray
    predictions: pd.DataFrame
    probabilities: np.ndarray
    out_dir: Path

    @property
    def misclassified(self) -> pd.DataFrame:
        return self.predictions[~self.predictions["correct"]]


def split_items(settings: Settings, *, dataset_id: int, split: str) -> tuple[str, list[Item]]:
    """(dataset name, items of ``split``); DataError when the split is empty."""
    with unit_of_work(settings) as session:
        dataset = session.get(Dataset, dataset_id)
        items = list_items(session, dataset_id=dataset_id, split=split)
    name = dataset.name if dataset else str(dataset_id)
    if not items:
        raise DataError(f"dataset {name!r} has no items in split {split!r}: choose another --split "
                        f"({', '.join(SPLITS)})")
    return name, items


def score(loaded: LoadedModel, items: list[Item], probs: np.ndarray, *, labels: str) -> dict[str, Any]:
    """Metrics, per-class table, confusion matrix and per-item predictions from probabilities [N, C]."""
    classes = loaded.class_names
    y_true = encode_labels(items, classes, labels).numpy()
    y_pred = probs.argmax(axis=1)
    indices = list(range(len(classes)))
    precision, recall, f1, support = precision_recall_fscore_support(
        y_true, y_pred, labels=indices, zero_division=0)
    per_class = pd.DataFrame({"class": classes, "precision": precision, "recall": recall, "f1": f1,
                              "support": support.astype(int)})
    matrix = confusion_matrix(y_true, y_pred, labels=indices)
    predictions = pd.DataFrame({
        "item_id": [item.id for item in items], "path": [item.path for item in items],
        "true_label": [classes[i] for i in y_true], "predicted_label": [classes[i] for i in y_pred],
        "confidence": probs.max(axis=1), "correct": y_true == y_pred,
    })
    metrics = {
        "accuracy": float((y_true == y_pred).mean()),
        "macro_f1": float(f1_score(y_true, y_pred, labels=indices, average="macro", zero_division=0)),
        "weighted_f1": float(f1_score(y_true, y_pred, labels=indices, average="weighted", zero_division=0)),
        "n": len(items), "n_misclassified": int((y_true != y_pred).sum()), "labels": labels,
        "per_class": {row["class"]: {k: float(row[k]) for k in ("precision", "recall", "f1", "support")}
                      for row in per_class.to_dict("records")},
        "confusion": matrix.tolist(), "class_names": list(classes),
        "evaluated_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    return {"metrics": metrics, "per_class": per_class, "confusion": matrix, "predictions": predictions}


def evaluate_model(
    settings: Settings,
    *,
    model: str,
    split: str = "test",
    labels: str = "current",
    batch_size: int = DEFAULT_BATCH_SIZE,
    device: str | None = None,
    progress: bool = True,
) -> EvalResult:
    """Evaluate model ``model`` on ``split`` against the items' ``labels`` ("current" or "original").

    For a model that carved its validation items out of the train split (no val split in the dataset),
    "val" means those carved items and "train" the items it trained on.
    Stores the metrics in ModelVersion.metrics[split] and writes, under models_dir/<model>/eval_<split>/:
    metrics.json, per_class.csv, confusion_matrix.csv (rows true, columns predicted), confusion_matrix.png,
    predictions.csv and misclassified.csv (item_id, path, true_label, predicted_label, confidence).
    """
    loaded = load_model(settings, model, device=device)
    with unit_of_work(settings) as session:
        version = get_model_version(session, name=model)
        dataset_id, carved = version.dataset_id, carved_val_ids(version.training_config)
    _, items = split_items(settings, dataset_id=dataset_id, split=dataset_split_for(split, carved))
    items = select_as_trained(items, split, carved)
    probs = predict_probabilities(loaded, items, batch_size=batch_size, progress=progress)
    scored = score(loaded, items, probs, labels=labels)
    out_dir = settings.models_dir / model / f"eval_{split}"
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "metrics.json").write_text(json.dumps(scored["metrics"], indent=2))
    write_csv(scored["per_class"], out_dir / "per_class.csv", index=False)
    write_csv(pd.DataFrame(scored["confusion"], index=pd.Index(loaded.class_names, name="true"),
                           columns=loaded.class_names), out_dir / "confusion_matrix.csv")
    plot_confusion(scored["confusion"], loaded.class_names, out_dir / "confusion_matrix.png",
                   title=f"{model} on {split}")
    predictions = scored["predictions"]
    write_csv(predictions, out_dir / "predictions.csv", index=False)
    write_csv(predictions[~predictions["correct"]].drop(columns="correct"),
              out_dir / "misclassified.csv", index=False)
    with unit_of_work(settings) as session:
        set_metrics(session, model_version_id=loaded.model_version_id, split=split, metrics=scored["metrics"])
    return EvalResult(model=model, split=split, metrics=scored["metrics"], per_class=scored["per_class"],
                      confusion=scored["confusion"], predictions=predictions, probabilities=probs,
                      out_dir=out_dir)
