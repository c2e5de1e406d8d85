"""The trained model versions as a table (`trustlab models`)."""

from __future__ import annotations

from dataclasses import dataclass

from trustlab.config import Settings
from trustlab.db.engine import read_session
from trustlab.db.queries.models import model_versions_with_dataset


@dataclass(frozen=True)
class ModelSummary:
    """One model version: what `trustlab models` shows. Accuracies are fractions in [0, 1]."""

    name: str
    arch: str
    dataset: str
    labels_source: str
    n_classes: int
    img_size: int
    best_val_acc: float | None
    test_acc: float | None


def list_models(settings: Settings) -> list[ModelSummary]:
    """Every model version, oldest first, with its best validation and its stored test accuracy."""
    with read_session(settings) as session:
        rows = model_versions_with_dataset(session)
    out = []
    for version, dataset in rows:
        history = version.history or {}
        best = history.get("best_epoch")
        val_acc = history["val_acc"][best - 1] if best and history.get("val_acc") else None
        out.append(
            ModelSummary(
                name=version.name,
                arch=version.arch,
                dataset=dataset,
                labels_source=version.labels_source,
                n_classes=len(version.class_names),
                img_size=version.img_size,
                best_val_acc=val_acc,
                test_acc=(version.metrics or {}).get("test", {}).get("accuracy"),
            )
        )
    return out
