"""`study status` and `study export`: progress per rater and condition; judgements as CSV and JSONL."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import pandas as pd

from trustlab.config import Settings
from trustlab.db.engine import session_for
from trustlab.db.queries.assignments import study_progress_rows
from trustlab.db.queries.judgements import judgement_rows
from trustlab.db.queries.models import get_model_name
from trustlab.db.queries.studies import get_study, study_items
from trustlab.studies.analysis.load import ANSWER_COLUMNS, judgements_frame
from trustlab.studies.config import load_study_config

EXPORT_COLUMNS = [
    "judgement_id",
    "assignment_id",
    "rater_id",
    "rater",
    "simulated",
    "item_id",
    "item_path",
    "condition",
    "position",
    "is_gold",
    "model",
    "predicted_label",
    "model_confidence",
    "model_correct",
    "true_label",
    "original_label",
    *ANSWER_COLUMNS.values(),
    "answers_json",
    "time_ms",
    "response_ms",
    "client_elapsed_ms",
    "created_at",
    "superseded",
]


def study_status(settings: Settings, name: str) -> dict[str, Any]:
    """{study, status, items, gold_items, raters, per_rater: [{rater, done, assigned, released, by
    condition}], per_condition: {condition: {done, assigned, released}}}."""
    with session_for(settings) as session:
        study = get_study(session, name=name)
        config = load_study_config(study.config)
        items = study_items(session, study_id=study.id)
        rows = study_progress_rows(session, study_id=study.id)
    per_rater: dict[int, dict[str, Any]] = {}
    per_condition: dict[str, dict[str, int]] = defaultdict(lambda: {"done": 0, "assigned": 0, "released": 0})
    for row in rows:
        entry = per_rater.setdefault(
            row["rater_id"],
            {"rater": row["handle"], "done": 0, "assigned": 0, "released": 0, "by_condition": {}},
        )
        entry[row["status"]] += row["count"]
        if row["status"] == "done":
            entry["by_condition"][row["condition"]] = (
                entry["by_condition"].get(row["condition"], 0) + row["count"]
            )
        if not row["is_gold"]:
            per_condition[row["condition"]][row["status"]] += row["count"]
    regular = sum(not si.is_gold for si in items)
    return {
        "study": study.name,
        "status": study.status,
        "design": config.design,
        "conditions": list(config.conditions),
        "items": regular,
        "gold_items": len(items) - regular,
        "target_judgements": regular * config.raters_per_item,
        "raters": len(per_rater),
        "per_rater": list(per_rater.values()),
        "per_condition": {c: per_condition[c] for c in config.conditions},
    }


def export_study(settings: Settings, name: str, out_dir: str | Path) -> dict[str, Path]:
    """Write OUT/<study>-judgements.csv and .jsonl: the latest judgement per assignment (``superseded``
    counts the earlier answers it replaced) with item, model, prediction, labels, condition, answers
    and timing. Returns the paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    with session_for(settings) as session:
        study = get_study(session, name=name)
        rows = judgement_rows(session, study_id=study.id)
        model = get_model_name(session, model_version_id=study.model_version_id)
    df = judgements_frame(rows)
    df["model"] = model
    df["answers_json"] = [json.dumps(a, sort_keys=True) for a in df["answers"]]
    df["created_at"] = [str(c) for c in df["created_at"]]
    table = df.reindex(columns=EXPORT_COLUMNS)
    csv_path, jsonl_path = out / f"{study.name}-judgements.csv", out / f"{study.name}-judgements.jsonl"
    table.to_csv(csv_path, index=False)
    with jsonl_path.open("w", encoding="utf-8") as handle:
        for record in table.drop(columns=["answers_json"]).assign(answers=df["answers"]).to_dict("records"):
            handle.write(
                json.dumps({k: (None if _isna(v) else v) for k, v in record.items()}, default=str) + "\n"
            )
    return {"csv": csv_path, "jsonl": jsonl_path}


def _isna(value: Any) -> bool:
    return not isinstance(value, (dict, list)) and bool(pd.isna(value))
