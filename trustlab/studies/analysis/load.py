"""The one loader: a study's judgements from the database into a DataFrame for the pure analysis."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from trustlab.config import Settings
from trustlab.db.engine import session_for
from trustlab.db.queries.explanations import explanation_scores
from trustlab.db.queries.judgements import judgement_rows
from trustlab.db.queries.labels import class_names
from trustlab.db.queries.models import get_model_name
from trustlab.db.queries.studies import get_study, study_items
from trustlab.db.schema import Study
from trustlab.studies.config import StudyConfig, load_study_config

# Answer keys (Judgement.answers) expanded into columns; "confidence" becomes rater_confidence so
# that it is not mistaken for the model's confidence.
ANSWER_COLUMNS = {
    "model_correct": "answer_model_correct",
    "true_label": "answer_true_label",
    "simulated_label": "answer_simulated_label",
    "trust": "trust",
    "helpfulness": "helpfulness",
    "confidence": "rater_confidence",
    "cant_tell": "cant_tell",
    "comment": "comment",
}


@dataclass(frozen=True)
class StudyData:
    """A study's judgements (one row per assignment's latest judgement) and what the analysis needs."""

    study: Study
    config: StudyConfig
    class_names: list[str]
    judgements: pd.DataFrame
    scores: pd.DataFrame  # one row per (item_id, method): faithfulness dict
    model_name: str
    # One row per assignment (rater_id, condition, status assigned/done/released, is_gold), for the
    # participant flow; None when not loaded.
    assignments: pd.DataFrame | None = None


def judgements_frame(rows: list[dict]) -> pd.DataFrame:
    """Rows from ``judgement_rows`` as a DataFrame with the answers expanded into columns."""
    columns = [
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
        "gold_answers",
        "model_correct",
        "predicted_label",
        "model_confidence",
        "true_label",
        "original_label",
        "answers",
        "response_ms",
        "client_elapsed_ms",
        "created_at",
        "superseded",
    ]
    df = pd.DataFrame(rows, columns=columns)
    for key, column in ANSWER_COLUMNS.items():
        df[column] = [answers.get(key) for answers in df["answers"]] if len(df) else pd.Series(dtype=object)
    df["cant_tell"] = df["cant_tell"].map(lambda v: bool(v) if v is not None else False).astype(bool)
    df["time_ms"] = item_time_ms(df)
    return df


def item_time_ms(df: pd.DataFrame) -> pd.Series:
    """Time spent on each item (ms): the client's measurement when it sent one, else the server's
    response_ms, which counts from when the item was first shown (Assignment.served_at)."""
    if df.empty:
        return pd.Series(dtype=float)
    server = pd.to_numeric(df["response_ms"], errors="coerce")
    client = pd.to_numeric(df["client_elapsed_ms"], errors="coerce")
    return client.where(client.notna(), server)


def load_study_data(settings: Settings, study: str | Study) -> StudyData:
    """Load a study (by name or row) with its latest judgements and its explanations' faithfulness."""
    with session_for(settings) as session:
        row = get_study(session, name=study) if isinstance(study, str) else study
        config = load_study_config(row.config)
        df = judgements_frame(judgement_rows(session, study_id=row.id))
        items = [si.item_id for si in study_items(session, study_id=row.id)]
        scores = pd.DataFrame(
            explanation_scores(session, model_version_id=row.model_version_id, item_ids=items),
            columns=["item_id", "method", "faithfulness"],
        )
        classes = class_names(session, dataset_id=row.dataset_id)
        model = get_model_name(session, model_version_id=row.model_version_id)
    return StudyData(row, config, classes, df, scores, model)
