"""`study status` and `study export`: progress per rater and condition; judgements as CSV and JSONL."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from trustlab.config import Settings
from trustlab.db.engine import read_session
from trustlab.db.queries.assignments import study_progress_rows
from trustlab.db.queries.models import get_model_name
from trustlab.db.queries.studies import get_study, study_items
from trustlab.studies.config.study import load_study_config
from trustlab.studies.judgements import EXPORT_COLUMNS, export_csv, export_table, read_judgements
from trustlab.studies.monitoring.progress import progress_counts


def study_status(settings: Settings, name: str) -> dict[str, Any]:
    """{study, status, items, gold_items, raters, per_rater: [{rater, done, assigned, released, by
    condition}], per_condition: {condition: {done, assigned, released}}}."""
    with read_session(settings) as session:
        study = get_study(session, name=name)
        config = load_study_config(study.config)
        items = study_items(session, study_id=study.id)
        rows = study_progress_rows(session, study_id=study.id)
    counts = progress_counts(rows, config.conditions)
    per_condition = counts["per_condition"]
    regular = sum(not si.is_gold for si in items)
    return {
        "study": study.name,
        "status": study.status,
        "design": config.design,
        "conditions": list(config.conditions),
        "items": regular,
        "gold_items": len(items) - regular,
        "target_judgements": regular * config.raters_per_item,
        "raters": len(counts["per_rater"]),
        "per_rater": list(counts["per_rater"].values()),
        "per_condition": {c: per_condition[c] for c in config.conditions},
    }


def judgement_export_columns() -> list[str]:
    """The one column list of both judgement exports (`study export` and the researcher tab's CSV),
    ``external_pid`` (the participant id) among them."""
    return list(EXPORT_COLUMNS)


def judgements_export(
    session: Any, *, study_id: int, model: str, include_superseded: bool = False
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(the judgement frame, its export table in ``judgement_export_columns()``): what both exports
    write. The CLI writes the current judgements, the researcher tab every one (superseded flagged)."""
    df = read_judgements(session, study_id=study_id, include_superseded=include_superseded)
    table = export_table(df, model=model).reindex(columns=judgement_export_columns())
    return df, table


def export_study(settings: Settings, name: str, out_dir: str | Path) -> dict[str, Path]:
    """Write OUT/<study>-judgements.csv and .jsonl: the current judgement per assignment
    (``earlier_answers`` counts the answers it replaced) with item, model, prediction, labels,
    condition, answers and timing, in ``studies.judgements.EXPORT_COLUMNS``. Returns the paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    with read_session(settings) as session:
        study = get_study(session, name=name)
        model = get_model_name(session, model_version_id=study.model_version_id)
        df, table = judgements_export(session, study_id=study.id, model=model)
    csv_path, jsonl_path = out / f"{study.name}-judgements.csv", out / f"{study.name}-judgements.jsonl"
    csv_path.write_text(export_csv(table), encoding="utf-8")
    with jsonl_path.open("w", encoding="utf-8") as handle:
        for record in table.drop(columns=["answers_json"]).assign(answers=df["answers"]).to_dict("records"):
            handle.write(
                json.dumps({k: (None if _isna(v) else v) for k, v in record.items()}, default=str) + "\n"
            )
    return {"csv": csv_path, "jsonl": jsonl_path}


def _isna(value: Any) -> bool:
    return not isinstance(value, (dict, list)) and bool(pd.isna(value))
