"""The one judgement pipeline: a study's judgements from the database into one DataFrame with one
column list. The analysis, both exports (CLI and researcher tab) and the live progress read it.

The rules about what a judgement means live here, once: which predictions count as the model being
right (``model_correct``), which answer keys become which columns (from ``studies.questions``), and
which rater answers name a class (``label_answers``).
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd

from trustlab.csv_safety import write_csv
from trustlab.db.queries.judgements import current_answers, judgement_records
from trustlab.studies.questions import CANT_TELL, TASK_ANSWER

# Answer keys (Judgement.answers) and their DataFrame columns. The keys come from the study's tasks;
# keys that share a name with a fact about the item get an ``answer_`` prefix, and the rater's
# ``confidence`` becomes ``rater_confidence`` so that it is not mistaken for the model's confidence.
ANSWER_KEYS: tuple[str, ...] = (*TASK_ANSWER.values(), CANT_TELL)
_COLUMN_OF_KEY = {
    TASK_ANSWER["verify"]: "answer_model_correct",
    TASK_ANSWER["true_label"]: "answer_true_label",
    TASK_ANSWER["simulate"]: "answer_simulated_label",
    TASK_ANSWER["confidence"]: "rater_confidence",
}
ANSWER_COLUMNS: dict[str, str] = {key: _COLUMN_OF_KEY.get(key, key) for key in ANSWER_KEYS}

# The facts of each judgement, in order (see db.queries.judgements.judgement_records), then the derived
# and expanded columns.
FACT_COLUMNS: list[str] = [
    "judgement_id", "assignment_id", "supersedes_id", "superseded", "earlier_answers",
    "rater_id", "rater", "external_pid", "simulated",
    "item_id", "item_path", "condition", "position", "is_gold", "gold_answers",
    "model_correct", "predicted_label", "model_confidence", "true_label", "current_label", "original_label",
    "answers", "response_ms", "client_elapsed_ms", "created_at",
]
JUDGEMENT_COLUMNS: list[str] = [*FACT_COLUMNS, *ANSWER_COLUMNS.values(), "time_ms"]
# What both CSV exports write (the answers once, by their answer key, as ``answer_<key>``).
EXPORT_COLUMNS: list[str] = [
    *[c for c in FACT_COLUMNS if c not in ("answers", "gold_answers")],
    "model",
    *[f"answer_{key}" for key in ANSWER_KEYS],
    "answers_json",
    "time_ms",
]


def model_correct(frozen: bool | None, predicted: str | None, label: str) -> bool | None:
    """Whether the model was right: the value frozen at ``study create`` when there is one, else its
    prediction against the item's label; None without a prediction."""
    if frozen is not None:
        return bool(frozen)
    return None if predicted is None else predicted == label


def judgements_frame(records: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """Records of ``judgement_records`` as a DataFrame with columns ``JUDGEMENT_COLUMNS``.

    One row per judgement; answers expanded into ``ANSWER_COLUMNS`` (None where not answered;
    ``cant_tell`` a bool); ``time_ms`` is the time spent on the item.
    """
    rows = []
    for record in records:
        row = dict(record)
        row["model_correct"] = model_correct(
            row.pop("frozen_model_correct", None), row["predicted_label"], row["true_label"]
        )
        rows.append(row)
    df = pd.DataFrame(rows, columns=FACT_COLUMNS)
    for key, column in ANSWER_COLUMNS.items():
        df[column] = [answers.get(key) for answers in df["answers"]] if len(df) else pd.Series(dtype=object)
    df[ANSWER_COLUMNS[CANT_TELL]] = df[ANSWER_COLUMNS[CANT_TELL]].map(
        lambda v: bool(v) if v is not None else False
    ).astype(bool)
    df["time_ms"] = item_time_ms(df)
    return df.reindex(columns=JUDGEMENT_COLUMNS)


def item_time_ms(df: pd.DataFrame) -> pd.Series:
    """Time spent on each item (ms): the client's measurement when it sent one, else the server's
    response_ms, which counts from when the item was first shown (Assignment.served_at)."""
    if df.empty:
        return pd.Series(dtype=float)
    server = pd.to_numeric(df["response_ms"], errors="coerce")
    client = pd.to_numeric(df["client_elapsed_ms"], errors="coerce")
    return client.where(client.notna(), server)


def read_judgements(session: Any, *, study_id: int, include_superseded: bool = False) -> pd.DataFrame:
    """The study's current judgements (or every one, superseded ones flagged) as ``judgements_frame``."""
    return judgements_frame(
        judgement_records(session, study_id=study_id, include_superseded=include_superseded)
    )


def export_table(df: pd.DataFrame, *, model: str) -> pd.DataFrame:
    """``df`` (a ``judgements_frame``) as the export table, columns ``EXPORT_COLUMNS``."""
    out = df.copy()
    out["model"] = model
    for key in ANSWER_KEYS:
        out[f"answer_{key}"] = [answers.get(key) for answers in df["answers"]] if len(df) else []
    out["answers_json"] = [json.dumps(a, sort_keys=True) for a in df["answers"]]
    out["created_at"] = [c.isoformat() if hasattr(c, "isoformat") else str(c) for c in df["created_at"]]
    return out.reindex(columns=EXPORT_COLUMNS)


def export_csv(table: pd.DataFrame) -> str:
    """An ``export_table`` as CSV text: booleans as 1/0, missing values empty, text cells escaped
    against formula injection (``trustlab.csv_safety``)."""
    out = table.copy()
    for column in out.columns:
        if column == "answers_json":
            continue
        out[column] = [_cell(v) for v in out[column]]
    buffer = io.StringIO()
    write_csv(out, buffer, index=False)
    return buffer.getvalue()


def _cell(value: Any) -> Any:
    if isinstance(value, bool):
        return int(value)
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return ""
    return value


def label_answers(session: Any, *, study_id: int | None = None, dataset_id: int | None = None
                  ) -> list[tuple[int, int, str]]:
    """Raters' class answers as ``(item_id, rater_id, label)``, oldest first, from the current
    judgement of each assignment of one study (or of every study of a dataset).

    An answer counts when it names a class and the rater did not say "can't tell".
    """
    key = TASK_ANSWER["true_label"]
    return [
        (item_id, rater_id, str(answers[key]))
        for item_id, rater_id, answers in current_answers(session, study_id=study_id, dataset_id=dataset_id)
        if answers.get(key) and not answers.get(CANT_TELL)
    ]
