"""Each judgement's outcomes, the inputs of every measure: ``validate_judgements`` checks a judgement
table's columns at the analysis's edge and adds, per judgement, whether the verdict was right, whether
the rater accepted the prediction, whether the simulated and true labels were right, and the trust
value. Also the per-rater measures' chance levels and outcome columns (``PER_RATER_CHANCE``,
``PER_RATER_COLUMN``), which ``raters`` tests per-rater means against."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

# Columns a judgement table must have (``validate_judgements`` checks them at the edge).
REQUIRED_COLUMNS: tuple[str, ...] = (
    "rater_id",
    "item_id",
    "condition",
    "model_correct",
    "predicted_label",
    "true_label",
    "answer_model_correct",
    "answer_true_label",
    "answer_simulated_label",
    "trust",
    "cant_tell",
    "response_ms",
)


def validate_judgements(df: pd.DataFrame) -> pd.DataFrame:
    """Check the columns and return a copy with outcome columns added (never modifies ``df``).

    Added columns (float, NaN where not answered or "can't tell"): ``verify_correct`` (1 when the
    rater's verdict on the prediction matches the truth), ``accept`` (1 when the rater said the
    prediction is correct), ``sim_correct`` (the rater named the model's predicted class),
    ``label_correct`` (the rater named the item's label as the study froze it), ``trust_value``.
    """
    missing = [c for c in REQUIRED_COLUMNS if c not in df.columns]
    if missing:
        raise ValueError(
            f"judgement table lacks columns {missing}: build it with studies.judgements.read_judgements()"
        )
    out = df.copy()
    cant = out["cant_tell"].fillna(False).astype(bool).to_numpy()
    answer = out["answer_model_correct"]
    answered = answer.notna().to_numpy() & ~cant
    truth = out["model_correct"].astype(float).to_numpy()
    accept = np.where(answered, answer.map(lambda v: float(bool(v)) if v is not None else np.nan), np.nan)
    out["accept"] = accept.astype(float)
    out["verify_correct"] = np.where(answered, (accept == truth).astype(float), np.nan)
    for answer_col, truth_col, name in (
        ("answer_simulated_label", "predicted_label", "sim_correct"),
        ("answer_true_label", "true_label", "label_correct"),
    ):
        given = out[answer_col].notna().to_numpy() & ~cant
        out[name] = np.where(given, (out[answer_col] == out[truth_col]).astype(float), np.nan)
    trust = pd.to_numeric(out["trust"], errors="coerce").to_numpy(dtype=float)
    out["trust_value"] = np.where(cant, np.nan, trust)
    return out


# Per-rater measures with their chance level: a function of the number of classes.
PER_RATER_CHANCE: dict[str, Callable[[int], float]] = {
    "verification_accuracy": lambda n_classes: 0.5,
    "simulation_accuracy": lambda n_classes: 1.0 / max(n_classes, 1),
    "true_label_accuracy": lambda n_classes: 1.0 / max(n_classes, 1),
}
PER_RATER_COLUMN = {
    "verification_accuracy": "verify_correct",
    "simulation_accuracy": "sim_correct",
    "true_label_accuracy": "label_correct",
}
