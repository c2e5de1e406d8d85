"""A synthetic study's data, simulated without a database, for the analysis tests."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd

from trustlab.studies.analysis.load import StudyData
from trustlab.studies.analysis.synthetic import SyntheticStudy, simulate_judgements
from trustlab.studies.config.study import load_study_config

CONDITIONS = ["none", "gradcam", "twin"]


def study_data(
    analysis: dict | None = None,
    *,
    assignments: pd.DataFrame | None = None,
    preregistration: dict | None = None,
) -> StudyData:
    """A closed synthetic study (18 raters x 30 items over CONDITIONS, gradcam +0.15) as StudyData."""
    spec = SyntheticStudy(
        n_raters=18, n_items=30, conditions=tuple(CONDITIONS), effect={"gradcam": 0.15}, cant_tell_rate=0.05
    )
    df = simulate_judgements(spec, np.random.default_rng(4)).assign(
        time_ms=1500.0, gold_answers=None, answers=[{} for _ in range(18 * 30)], helpfulness=np.nan
    )
    config = {
        "name": "synthetic",
        "dataset": "shapes",
        "model": "cnn",
        "conditions": CONDITIONS,
        "items": {"n": 30},
        "items_per_rater": 30,
        "tasks": ["verify", "trust", "confidence"],
    }
    if analysis is not None:
        config["analysis"] = analysis
    study = SimpleNamespace(name="synthetic", id=1, status="closed")
    scores = pd.DataFrame(columns=["item_id", "method", "faithfulness"])
    return StudyData(
        study, load_study_config(config), ["a", "b"], df, scores, "cnn", assignments,
        preregistration=preregistration,
    )
