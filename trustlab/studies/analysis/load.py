"""The analysis's loader: a study, its current judgements (``studies.judgements``), faithfulness scores."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from trustlab.config import Settings
from trustlab.db.engine import read_session
from trustlab.db.queries.assignments import study_progress_rows
from trustlab.db.queries.explanations import explanation_scores
from trustlab.db.queries.labels import class_names
from trustlab.db.queries.models import get_model_name
from trustlab.db.queries.participants import screened_out_reasons
from trustlab.db.queries.studies import get_study, study_items
from trustlab.db.schema import Study
from trustlab.studies.config.study import StudyConfig, load_study_config
from trustlab.studies.design.preregistered import study_preregistration
from trustlab.studies.judgements import read_judgements


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
    # A link study's participants screened out while it ran (rater_id -> why): excluded like gold
    # failures (``truth.exclusions``).
    screened_out: dict[int, str] = field(default_factory=dict)
    # Whether the primary analysis was pre-registered (``preregistered.preregistration_status``);
    # None: not loaded from a database (nothing was recorded).
    preregistration: dict | None = None


def load_study_data(settings: Settings, study: str | Study) -> StudyData:
    """Load a study (by name or row) with its latest judgements and its explanations' faithfulness."""
    with read_session(settings) as session:
        row = get_study(session, name=study) if isinstance(study, str) else study
        config = load_study_config(row.config)
        df = read_judgements(session, study_id=row.id)
        items = [si.item_id for si in study_items(session, study_id=row.id)]
        scores = pd.DataFrame(
            explanation_scores(session, model_version_id=row.model_version_id, item_ids=items),
            columns=["item_id", "method", "faithfulness"],
        )
        classes = class_names(session, dataset_id=row.dataset_id)
        model = get_model_name(session, model_version_id=row.model_version_id)
        assignments = assignments_frame(study_progress_rows(session, study_id=row.id))
        screened = screened_out_reasons(session, study_id=row.id)
        prereg = study_preregistration(session, row, config)
    return StudyData(row, config, classes, df, scores, model, assignments, screened, prereg)


def assignments_frame(progress_rows: list[dict]) -> pd.DataFrame:
    """One row per assignment (rater_id, condition, status, is_gold) from the progress counts."""
    columns = ["rater_id", "condition", "status", "is_gold"]
    counts = pd.DataFrame(progress_rows, columns=[*columns, "count"])
    return counts.loc[counts.index.repeat(counts["count"]), columns].reset_index(drop=True)
