"""A study's progress: assignments per rater and condition, from one query, for `study status` and the
researcher tab; rater quality that compares no conditions (``rater_quality``); and the live outcome
numbers per condition (``live_outcomes``), which the researcher tab shows only once the study is
unblinded (outcome blinding, ``monitoring.outcome_blinding``)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd

from trustlab.studies.questions import gold_failures

STATUSES = ("done", "assigned", "released")


def progress_counts(rows: Iterable[Mapping[str, Any]], conditions: Iterable[str]) -> dict[str, Any]:
    """Per-rater and per-condition counts of assignments by status.

    ``rows`` come from ``db.queries.assignments.study_progress_rows`` (rater_id, handle, condition,
    status, is_gold, count). Returns {per_rater: {rater_id: {rater, done, assigned, released,
    by_condition: {condition: done}}}, per_condition: {condition: {done, assigned, released}}}, where
    ``assigned`` counts the open assignments, gold items count for raters but not for conditions.
    """
    per_rater: dict[int, dict[str, Any]] = {}
    per_condition: dict[str, dict[str, int]] = {c: dict.fromkeys(STATUSES, 0) for c in conditions}
    for row in rows:
        entry = per_rater.setdefault(
            row["rater_id"],
            {"rater": row["username"], **dict.fromkeys(STATUSES, 0), "by_condition": {}},
        )
        entry[row["status"]] += row["count"]
        if row["status"] == "done":
            by_condition = entry["by_condition"]
            by_condition[row["condition"]] = by_condition.get(row["condition"], 0) + row["count"]
        if not row["is_gold"]:
            per_condition.setdefault(row["condition"], dict.fromkeys(STATUSES, 0))
            per_condition[row["condition"]][row["status"]] += row["count"]
    return {"per_rater": per_rater, "per_condition": per_condition}


def live_outcomes(current: pd.DataFrame, conditions: Iterable[str]) -> dict[str, dict[str, Any]]:
    """Accuracy so far per condition, from current judgements (a ``judgements_frame``).

    Returns {condition: {n_verify, verification_accuracy, n_true_label, true_label_accuracy}};
    accuracies are fractions in [0, 1] (4 decimals) or None without answers. "Can't tell" answers
    are left out.
    """
    out: dict[str, dict[str, Any]] = {}
    answered = current[~current["cant_tell"].astype(bool)]
    for condition in conditions:
        mine = answered[answered["condition"] == condition]
        verify = mine[mine["answer_model_correct"].notna() & mine["model_correct"].notna()]
        labels = mine[mine["answer_true_label"].notna()]
        out[condition] = {
            "n_verify": int(len(verify)),
            "verification_accuracy": _share(
                verify["answer_model_correct"].astype(bool) == verify["model_correct"].astype(bool)
            ),
            "n_true_label": int(len(labels)),
            "true_label_accuracy": _share(labels["answer_true_label"] == labels["true_label"]),
        }
    return out


def _share(hits: pd.Series) -> float | None:
    return round(float(hits.mean()), 4) if len(hits) else None


def rater_quality(current: pd.DataFrame) -> dict[Any, dict[str, Any]]:
    """Per rater, quality that compares no conditions, from current judgements (a ``judgements_frame``).

    Returns {rater_id: {gold_seen, gold_failures, cant_tell_rate, median_time_s}}: gold
    items seen and failed (``questions.gold_failures``), the share of "can't tell" answers in [0, 1]
    and the median time per item in seconds (None without times), 4 and 1 decimals.
    """
    out: dict[Any, dict[str, Any]] = {}
    for rater_id, group in current.groupby("rater_id", sort=True):
        gold = group[group["is_gold"].astype(bool)]
        failed = sum(
            bool(gold_failures(g, a)) for g, a in zip(gold["gold_answers"], gold["answers"], strict=True)
        )
        times = pd.to_numeric(group["time_ms"], errors="coerce").dropna()
        out[rater_id] = {
            "gold_seen": int(len(gold)),
            "gold_failures": int(failed),
            "cant_tell_rate": _share(group["cant_tell"].astype(bool)),
            "median_time_s": round(float(times.median()) / 1000, 1) if len(times) else None,
        }
    return out
