"""`trustlab compare`: several models side by side on the same split (and, for two, what changed)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from trustlab.config import Settings
from trustlab.csv_safety import write_csv
from trustlab.db.engine import unit_of_work
from trustlab.db.queries.models import get_model_version
from trustlab.db.schema import Dataset, ModelVersion
from trustlab.models.errors import DataError
from trustlab.models.evaluate import EvalResult, evaluate_model
from trustlab.models.infer import DEFAULT_BATCH_SIZE

COMPARISONS_DIR = "comparisons"


@dataclass
class Comparison:
    """``table``: one row per model (accuracy, macro_f1, f1_<class>..., params, train_seconds).
    ``changed``: for exactly two models, the items whose predicted label differs (else None)."""

    table: pd.DataFrame
    changed: pd.DataFrame | None
    results: list[EvalResult]
    csv_path: Path
    changed_path: Path | None


def _versions(settings: Settings, names: Sequence[str]) -> list[ModelVersion]:
    if not names:
        raise DataError("name at least one model to compare")
    if len(set(names)) != len(names):
        raise DataError(f"a model is named twice in {', '.join(names)}: name each model once")
    with unit_of_work(settings) as session:
        versions = [get_model_version(session, name=name) for name in names]
        datasets = {v.dataset_id: session.get(Dataset, v.dataset_id).name for v in versions}
    if len(datasets) > 1:
        described = ", ".join(f"{v.name} ({datasets[v.dataset_id]})" for v in versions)
        raise DataError(f"the models were trained on different datasets: {described}; "
                        "compare models of one dataset")
    return versions


def changed_predictions(old: EvalResult, new: EvalResult) -> pd.DataFrame:
    """Items whose prediction differs between ``old`` and ``new`` (same split, same items).

    Columns: item_id, path, true_label, old_prediction, new_prediction, old_correct, new_correct,
    change ("fixed": new right, old wrong; "broken": the reverse; "changed": both wrong).
    """
    keep = ["item_id", "path", "true_label", "predicted_label", "correct"]
    merged = old.predictions[keep].merge(new.predictions[["item_id", "predicted_label", "correct"]],
                                         on="item_id", suffixes=("_old", "_new"))
    merged = merged[merged["predicted_label_old"] != merged["predicted_label_new"]]
    merged = merged.rename(columns={"predicted_label_old": "old_prediction",
                                    "predicted_label_new": "new_prediction",
                                    "correct_old": "old_correct", "correct_new": "new_correct"})
    merged["change"] = [
        "fixed" if n and not o else "broken" if o and not n else "changed"
        for o, n in zip(merged["old_correct"], merged["new_correct"], strict=True)
    ]
    return merged.reset_index(drop=True)


def compare_models(
    settings: Settings,
    *,
    models: Sequence[str],
    split: str = "test",
    labels: str = "current",
    out: str | Path | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    device: str | None = None,
    progress: bool = True,
) -> Comparison:
    """Evaluate every model on ``split`` against the items' ``labels`` and tabulate them.

    Writes the table to ``out`` (default models_dir/comparisons/<a>_vs_<b>_<split>.csv); with two
    models also ``<out stem>_changed.csv`` listing the items whose prediction changed.
    """
    versions = _versions(settings, models)
    results = [evaluate_model(settings, model=v.name, split=split, labels=labels, batch_size=batch_size,
                              device=device, progress=progress) for v in versions]
    classes: list[str] = []
    for result in results:
        classes += [c for c in result.metrics["class_names"] if c not in classes]
    rows = []
    for version, result in zip(versions, results, strict=True):
        m = result.metrics
        row = {"model": version.name, "arch": version.arch, "labels": version.labels_source,
               "accuracy": m["accuracy"], "macro_f1": m["macro_f1"]}
        for cls in classes:
            row[f"f1_{cls}"] = m["per_class"].get(cls, {}).get("f1")
        row["params"] = (version.history or {}).get("num_params")
        row["train_seconds"] = (version.history or {}).get("train_seconds")
        row["n"] = m["n"]
        rows.append(row)
    table = pd.DataFrame(rows)
    csv_path = Path(out) if out else (settings.models_dir / COMPARISONS_DIR
                                      / f"{'_vs_'.join(models)}_{split}.csv")
    csv_path.parent.mkdir(parents=True, exist_ok=True)
    write_csv(table, csv_path, index=False)
    changed, changed_path = None, None
    if len(results) == 2:
        changed = changed_predictions(*results)
        changed_path = csv_path.with_name(f"{csv_path.stem}_changed.csv")
        write_csv(changed, changed_path, index=False)
    return Comparison(table=table, changed=changed, results=results, csv_path=csv_path,
                      changed_path=changed_path)
