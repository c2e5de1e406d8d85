"""The participant flow per condition (CONSORT-style: invited, started, completed, excluded, analysed),
and what else a reviewer asks for besides the headline numbers: a per-item table and a learning check
(condition x half of the session)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from trustlab.studies.analysis.inference import combination
from trustlab.studies.analysis.raters import GOLD_REASON as EXCLUSION_REASON

ASSIGNMENT_STATUSES = ("assigned", "done", "released")
LEARNING_MEASURE = "verification_accuracy"


def flow(
    assignments: pd.DataFrame | None, judgements: pd.DataFrame, excluded: Sequence[dict[str, Any]]
) -> dict[str, Any]:
    """Participant flow per condition (CONSORT-style), counted in raters unless named otherwise.

    Parameters
    ----------
    assignments: one row per assignment with rater_id, condition, status (assigned, done or released:
        released = timed out and handed to another rater) and is_gold; None when not loaded (then the
        counts that need it are None).
    judgements: the judgement table (rater_id, condition, is_gold, cant_tell), before exclusions.
    excluded: excluded raters, each a dict with rater_id (``raters.excluded_raters``).

    Returns {condition: {invited, started, completed, timed_out, excluded: {n, reasons}, analysed,
    judgements, cant_tell, cant_tell_rate}}.
    """
    excluded_ids = {row["rater_id"] for row in excluded}
    regular_j = judgements[~judgements["is_gold"].astype(bool)] if len(judgements) else judgements
    regular_a = _regular_assignments(assignments)
    if regular_a is not None:
        conditions = list(dict.fromkeys(regular_a["condition"]))
    else:
        conditions = list(dict.fromkeys(regular_j["condition"])) if len(regular_j) else []
    return {
        condition: _condition_flow(condition, regular_a, regular_j, excluded, excluded_ids)
        for condition in conditions
    }


def _regular_assignments(assignments: pd.DataFrame | None) -> pd.DataFrame | None:
    """The assignments of regular (non-gold) items, their statuses checked; None when not loaded."""
    if assignments is None:
        return None
    bad = set(assignments["status"]) - set(ASSIGNMENT_STATUSES)
    if bad:
        raise ValueError(f"assignment status {sorted(bad)} unknown: use {', '.join(ASSIGNMENT_STATUSES)}")
    return assignments[~assignments["is_gold"].astype(bool)]


def _condition_flow(
    condition: str,
    regular_a: pd.DataFrame | None,
    regular_j: pd.DataFrame,
    excluded: Sequence[dict[str, Any]],
    excluded_ids: set[Any],
) -> dict[str, Any]:
    """One condition's entry of ``flow``: who was invited, started, completed, timed out, was
    excluded (and why) and analysed, and its judgements."""
    rows = regular_j[regular_j["condition"] == condition] if len(regular_j) else regular_j
    started = set(rows["rater_id"]) if len(rows) else set()
    entry: dict[str, Any] = {
        "invited": None,
        "started": len(started),
        "completed": None,
        "timed_out": None,
    }
    invited = started
    if regular_a is not None:
        mine = regular_a[regular_a["condition"] == condition]
        by_rater = mine.groupby("rater_id")["status"]
        invited = set(mine["rater_id"])
        entry["invited"] = len(invited)
        entry["completed"] = int(by_rater.agg(lambda s: bool((s == "done").all())).sum())
        entry["timed_out"] = int(by_rater.agg(lambda s: bool((s == "released").any())).sum())
    cant = int(rows["cant_tell"].fillna(False).astype(bool).sum()) if len(rows) else 0
    entry.update(
        excluded={"n": len(invited & excluded_ids), "reasons": _exclusion_reasons(excluded, invited)},
        analysed=len(started - excluded_ids),
        judgements=int(len(rows)),
        cant_tell=cant,
        cant_tell_rate=cant / len(rows) if len(rows) else None,
    )
    return entry


def _exclusion_reasons(excluded: Sequence[dict[str, Any]], invited: set[Any]) -> dict[str, int]:
    """How many of the ``invited`` raters were excluded for each reason."""
    reasons: dict[str, int] = {}
    for row in excluded:
        if row["rater_id"] in invited:
            why = row.get("reason", EXCLUSION_REASON)
            reasons[why] = reasons.get(why, 0) + 1
    return reasons


def item_table(df: pd.DataFrame) -> list[dict[str, Any]]:
    """Per item (validated judgements): n, model_correct, difficulty (share of wrong verdicts),
    verify_agreement (share of verdicts agreeing with the item's majority verdict), mean trust,
    can't-tell rate and the conditions it was seen in; hardest first."""
    if df.empty:
        return []
    rows = []
    for item_id, group in df.groupby("item_id"):
        verdicts = group["accept"].dropna()
        majority = float(verdicts.mean() >= 0.5) if len(verdicts) else np.nan
        trust = pd.to_numeric(group["trust_value"], errors="coerce").dropna()
        correct = group["verify_correct"].dropna()
        rows.append(
            {
                "item_id": item_id,
                "n": int(len(group)),
                "model_correct": bool(group["model_correct"].iloc[0]),
                "difficulty": float(1 - correct.mean()) if len(correct) else None,
                "verify_agreement": float((verdicts == majority).mean()) if len(verdicts) else None,
                "mean_trust": float(trust.mean()) if len(trust) else None,
                "cant_tell_rate": float(group["cant_tell"].astype(bool).mean()),
                "conditions": sorted(set(group["condition"])),
            }
        )
    return sorted(rows, key=lambda r: -1 if r["difficulty"] is None else -r["difficulty"])


def session_half(df: pd.DataFrame) -> np.ndarray:
    """True for judgements in the second half of their rater's session (by position)."""
    position = pd.to_numeric(df["position"], errors="coerce")
    median = position.groupby(df["rater_id"]).transform("median")
    return (position > median).to_numpy()


def learning_check(df: pd.DataFrame, conditions: Sequence[str]) -> dict[str, Any]:
    """Verification accuracy in the second minus the first half of each rater's session, per
    condition, and the difference of that learning between each condition and the first one (the
    condition x half interaction), all with the two-way inference. Exploratory."""
    if "position" not in df or df["position"].isna().all():
        return {"reason": "no positions recorded"}
    late = session_half(df)
    condition = df["condition"].to_numpy()
    per_condition: dict[str, Any] = {}
    for c in conditions:
        result = combination(
            df, [((condition == c) & late, 1.0), ((condition == c) & ~late, -1.0)], LEARNING_MEASURE
        )
        per_condition[c] = result or {"diff": None, "reason": "too few judgements in one half"}
    interactions = []
    reference = conditions[0] if conditions else None
    for c in conditions[1:]:
        parts = [
            ((condition == c) & late, 1.0),
            ((condition == c) & ~late, -1.0),
            ((condition == reference) & late, -1.0),
            ((condition == reference) & ~late, 1.0),
        ]
        result = combination(df, parts, LEARNING_MEASURE)
        if result is not None:
            interactions.append({"a": c, "b": reference, **result})
    return {
        "measure": LEARNING_MEASURE,
        "definition": "second half minus first half of each rater's session (by position)",
        "per_condition": per_condition,
        "interaction": interactions,
        "role": "exploratory",
    }
