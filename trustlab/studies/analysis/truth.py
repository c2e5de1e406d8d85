"""One truth per analysis: the labels a study is scored against.

The primary analysis scores true-label answers, model correctness and gold answers against the labels
frozen at ``study create`` (``true_label`` in the judgement frame). ``analyze --labels current`` adds a
sensitivity analysis that re-scores them against the items' curated labels now (``current_label``):
model correctness is re-derived as ``predicted_label == current_label`` and the gold answers that name
a label or a verdict follow. Everything here is a pure function on the judgement frame
(``studies.judgements``); the primary and the sensitivity analysis share ``exclusions`` and
``scoreable`` so that they differ only in the labels.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from trustlab.studies.analysis.confirmatory import confirmatory_pairs, label_and_correct, primary_result
from trustlab.studies.analysis.inference import contrasts, estimate
from trustlab.studies.analysis.outcomes import validate_judgements
from trustlab.studies.analysis.raters import excluded_raters, screened_out_raters
from trustlab.studies.config.study import StudyConfig
from trustlab.studies.questions import TASK_ANSWER
from trustlab.wording import counted

LABELS = ("frozen", "current")
# Measures shown under both label sets: those that depend on the labels (every verdict measure and
# true-label accuracy), plus the study's primary measure.
LABEL_MEASURES: tuple[str, ...] = (
    "verification_accuracy",
    "ai_alone_accuracy",
    "balanced_accuracy",
    "accept_rate_model_wrong",
    "error_detection_dprime",
    "criterion_c",
    "trust_auroc",
    "true_label_accuracy",
)
# Items whose label changed, listed in summary.json (all of them are counted).
MAX_CHANGED_LISTED = 50
SENSITIVITY_NOTE = (
    "sensitivity analysis: true-label answers, model correctness (predicted label == current label) and "
    "gold answers re-scored against the items' current (curated) labels instead of the labels frozen at "
    "study create; same exclusion rule, estimator and Holm family as the primary analysis"
)


def check_labels(labels: str) -> str:
    """``labels`` if it is one of LABELS; ValueError naming the choices otherwise."""
    if labels not in LABELS:
        raise ValueError(
            f"--labels {labels!r}: use one of {', '.join(LABELS)} (frozen is the primary analysis)"
        )
    return labels


def _changed(df: pd.DataFrame) -> np.ndarray:
    current = df["current_label"]
    return (current.notna() & (current != df["true_label"])).to_numpy(bool)


def label_changes(df: pd.DataFrame) -> dict[str, Any]:
    """How many of the study's rated items have a current label other than the frozen one.

    ``df``: a judgement frame (columns item_id, is_gold, true_label, current_label, predicted_label).
    Returns {items_changed, gold_items_changed, model_correct_flipped (regular items whose model
    correctness changes), changed: [{item_id, frozen, current, is_gold}] (at most MAX_CHANGED_LISTED)}.
    """
    if "current_label" not in df:
        raise ValueError("the judgement frame has no current_label column: build it with read_judgements()")
    items = df.drop_duplicates("item_id")
    changed = items[_changed(items)]
    regular = changed[~changed["is_gold"].astype(bool)]
    flipped = int(
        (
            (regular["predicted_label"] == regular["true_label"])
            != (regular["predicted_label"] == regular["current_label"])
        ).sum()
    )
    listed = [
        {"item_id": r.item_id, "frozen": r.true_label, "current": r.current_label, "is_gold": bool(r.is_gold)}
        for r in changed.sort_values("item_id").head(MAX_CHANGED_LISTED).itertuples()
    ]
    return {
        "items_changed": int(len(regular)),
        "gold_items_changed": int(len(changed) - len(regular)),
        "model_correct_flipped": flipped,
        "changed": listed,
    }


def _current_gold(gold: Any, predicted: Any, current: Any) -> Any:
    if not isinstance(gold, dict):
        return gold
    out = dict(gold)
    if TASK_ANSWER["verify"] in out and predicted is not None:
        out[TASK_ANSWER["verify"]] = predicted == current
    if TASK_ANSWER["true_label"] in out:
        out[TASK_ANSWER["true_label"]] = current
    return out


def with_current_labels(df: pd.DataFrame) -> pd.DataFrame:
    """A copy of the judgement frame scored against the current labels (``df`` is not modified).

    ``true_label`` becomes ``current_label`` (where there is one), ``model_correct`` becomes
    ``predicted_label == current_label`` (None without a prediction) and gold answers for ``verify``
    and ``true_label`` follow the current label; ``simulate`` answers are scored as before.
    """
    if "current_label" not in df:
        raise ValueError("the judgement frame has no current_label column: build it with read_judgements()")
    out = df.copy()
    current = out["current_label"].where(out["current_label"].notna(), out["true_label"])
    out["true_label"] = current
    predicted = out["predicted_label"]
    out["model_correct"] = [
        None if p is None or (isinstance(p, float) and np.isnan(p)) else bool(p == c)
        for p, c in zip(predicted, current, strict=True)
    ]
    if "gold_answers" in out:
        out["gold_answers"] = [
            _current_gold(g, p, c) for g, p, c in zip(out["gold_answers"], predicted, current, strict=True)
        ]
    return out


def exclusions(
    df: pd.DataFrame, config: StudyConfig, screened_out: dict[int, str] | None = None
) -> tuple[pd.DataFrame, list[dict], pd.DataFrame]:
    """(gold judgements, excluded raters (``raters.excluded_raters``, then the participants the study
    screened out while it ran: ``screened_out`` rater_id -> why), regular judgements of the raters
    that stay) of a judgement frame."""
    gold = df[df["is_gold"].astype(bool)] if len(df) else df
    handles = dict(zip(df["rater_id"], df["rater"], strict=False)) if len(df) else {}
    excluded = excluded_raters(gold, max_failures=config.gold.max_failures, handles=handles)
    excluded += screened_out_raters(
        screened_out or {}, gold, already={row["rater_id"] for row in excluded}, handles=handles
    )
    excluded_ids = {row["rater_id"] for row in excluded}
    regular = df[~df["is_gold"].astype(bool) & ~df["rater_id"].isin(excluded_ids)] if len(df) else df
    return gold, excluded, regular


def scoreable(regular: pd.DataFrame, notes: list[str]) -> pd.DataFrame:
    """The regular judgements validated (``validate_judgements``), without items that have no held-out
    prediction; appends to ``notes`` what was left out and why."""
    data_v = validate_judgements(regular.reset_index(drop=True))
    if data_v["model_correct"].isna().any():
        notes.append(
            "some items have no held-out prediction of the model: their verify answers cannot be scored"
        )
        data_v = data_v[data_v["model_correct"].notna()].reset_index(drop=True)
    data_v["model_correct"] = data_v["model_correct"].astype(bool)
    if not (~data_v["model_correct"]).any():
        notes.append("the model is right on every rated item: measures on model errors are undefined")
    cant = int(data_v["cant_tell"].astype(bool).sum())
    if cant:
        answers = counted(cant, "\"can't tell\" answer")
        notes.append(
            f"{answers} {'is' if cant == 1 else 'are'} left out of the accuracy, trust and agreement "
            "measures; the report gives their share per condition as the can't-tell rate"
        )
    return data_v


def _scored(
    df: pd.DataFrame, config: StudyConfig, measures: list[str], screened_out: dict[int, str] | None = None
) -> dict[str, Any]:
    """The primary analysis's core on one label set: exclusions, per-condition measures, primary."""
    notes: list[str] = []
    _, excluded, regular = exclusions(df, config, screened_out)
    if regular.empty:
        return {"excluded_raters": excluded, "conditions": {}, "primary": {"contrasts": []}, "notes": notes}
    data_v = scoreable(regular, notes)
    conditions = list(config.conditions)
    per_condition = {
        c: {m: estimate(data_v[data_v["condition"] == c], m) for m in measures} for c in conditions
    }
    rows = contrasts(data_v, conditions, pairs=confirmatory_pairs(config), measures=[config.analysis.primary])
    return {
        "excluded_raters": excluded,
        "conditions": per_condition,
        "primary": primary_result(label_and_correct(rows, config), config),
        "notes": notes,
    }


def current_labels_sensitivity(
    df: pd.DataFrame, config: StudyConfig, frozen: dict[str, Any], screened_out: dict[int, str] | None = None
) -> dict[str, Any]:
    """summary["sensitivity"]["current_labels"]: the primary measures per condition and the primary
    contrasts under the frozen and the current labels, side by side.

    Parameters
    ----------
    df: the study's judgement frame (with ``current_label``), as loaded (before exclusions).
    frozen: the primary analysis's summary (``conditions``, ``primary``, ``excluded_raters``).
    screened_out: participants the study screened out (rater_id -> why), excluded as in ``frozen``.

    Returns {note, labels_changed (``label_changes``), measures, excluded_raters: {frozen, current},
    conditions: {c: {measure: {frozen: {mean, ci_low, ci_high}, current: {...}}}}, primary: {measure,
    alpha, correction, contrasts: [{a, b, frozen: {...}, current: {...}}]}, notes}.
    """
    measures = list(dict.fromkeys([*LABEL_MEASURES, config.analysis.primary]))
    current = _scored(with_current_labels(df), config, measures, screened_out)
    keep = ("mean", "ci_low", "ci_high")
    conditions = {
        c: {
            m: {
                "frozen": {k: frozen.get("conditions", {}).get(c, {}).get(m, {}).get(k) for k in keep},
                "current": {k: current["conditions"].get(c, {}).get(m, {}).get(k) for k in keep},
            }
            for m in measures
        }
        for c in config.conditions
    }
    contrast_keys = ("diff", "ci_low_adj", "ci_high_adj", "p", "p_holm", "significant", "reason")
    frozen_rows = {(r["a"], r["b"]): r for r in frozen.get("primary", {}).get("contrasts", [])}
    current_rows = {(r["a"], r["b"]): r for r in current["primary"].get("contrasts", [])}
    primary = {
        "measure": config.analysis.primary,
        "alpha": config.analysis.alpha,
        "correction": current["primary"].get("correction"),
        "contrasts": [
            {
                "a": a,
                "b": b,
                "frozen": {k: frozen_rows.get((a, b), {}).get(k) for k in contrast_keys},
                "current": {k: current_rows.get((a, b), {}).get(k) for k in contrast_keys},
            }
            for a, b in confirmatory_pairs(config)
        ],
    }
    return {
        "note": SENSITIVITY_NOTE,
        "labels_changed": label_changes(df),
        "measures": measures,
        "excluded_raters": {
            "frozen": len(frozen.get("excluded_raters", [])),
            "current": len(current["excluded_raters"]),
        },
        "conditions": conditions,
        "primary": primary,
        "notes": current["notes"],
    }
