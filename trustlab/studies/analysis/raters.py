"""Per-rater results: gold-item failures and exclusions, and per-rater means against chance."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import ttest_1samp

from trustlab.studies.analysis.outcomes import PER_RATER_CHANCE, PER_RATER_COLUMN
from trustlab.studies.questions import gold_failures

EXCLUSION_RULE = "a rater is excluded when they fail more than gold.max_failures gold items"
GOLD_REASON = "failed more gold items than gold.max_failures"
# A link study's participant screened out while it ran (attention-check and gold-item failures together
# over gold.max_failures, see studies/recruitment/rules.py): their judgements leave the analysis too.
SCREENED_OUT_REASON = (
    "screened out during the study (attention-check and gold-item failures over gold.max_failures)"
)


def gold_table(df: pd.DataFrame) -> pd.DataFrame:
    """Per rater: gold_seen, gold_failures. ``df`` holds gold judgements with gold_answers and answers."""
    rows = []
    for rater_id, group in df.groupby("rater_id"):
        failures = sum(
            bool(gold_failures(g, a)) for g, a in zip(group["gold_answers"], group["answers"], strict=True)
        )
        rows.append({"rater_id": rater_id, "gold_seen": len(group), "gold_failures": failures})
    return pd.DataFrame(rows, columns=["rater_id", "gold_seen", "gold_failures"])


def excluded_raters(
    gold: pd.DataFrame, *, max_failures: int, handles: dict[Any, str] | None = None
) -> list[dict]:
    """[{rater_id, rater, gold_seen, gold_failures}] for raters over the limit."""
    table = (
        gold_table(gold) if len(gold) else pd.DataFrame(columns=["rater_id", "gold_seen", "gold_failures"])
    )
    over = table[table["gold_failures"] > max_failures]
    handles = handles or {}
    return [
        {
            "rater_id": int(row.rater_id),
            "rater": handles.get(row.rater_id, str(row.rater_id)),
            "gold_seen": int(row.gold_seen),
            "gold_failures": int(row.gold_failures),
            "reason": GOLD_REASON,
        }
        for row in over.itertuples()
    ]


def screened_out_raters(
    screened_out: dict[int, str],
    gold: pd.DataFrame,
    *,
    already: set[int],
    handles: dict[Any, str] | None = None,
) -> list[dict]:
    """[{rater_id, rater, gold_seen, gold_failures, reason}] for participants the study screened out
    (``screened_out``: rater_id -> why) that the gold rule did not already exclude."""
    table = gold_table(gold).set_index("rater_id") if len(gold) else pd.DataFrame()
    handles = handles or {}
    out = []
    for rater_id, why in sorted(screened_out.items()):
        if rater_id in already:
            continue
        seen = table.loc[rater_id] if rater_id in table.index else None
        out.append({
            "rater_id": int(rater_id),
            "rater": handles.get(rater_id, str(rater_id)),
            "gold_seen": int(seen["gold_seen"]) if seen is not None else 0,
            "gold_failures": int(seen["gold_failures"]) if seen is not None else 0,
            "reason": f"{SCREENED_OUT_REASON}: {why}" if why else SCREENED_OUT_REASON,
        })
    return out


def per_rater(df: pd.DataFrame, *, n_classes: int) -> dict[str, Any]:
    """For one condition: each measure's per-rater means summarised as mean, SD and a one-sample
    t-test against chance (two-sided)."""
    out: dict[str, Any] = {}
    for measure, column in PER_RATER_COLUMN.items():
        means = df.groupby("rater_id")[column].mean().dropna()
        chance = PER_RATER_CHANCE[measure](n_classes)
        entry: dict[str, Any] = {
            "n_raters": int(len(means)),
            "chance": chance,
            "mean": float(means.mean()) if len(means) else None,
            "sd": float(means.std(ddof=1)) if len(means) > 1 else None,
        }
        if len(means) < 2:
            entry.update(t=None, p=None, reason="fewer than two raters with answers")
        elif np.isclose(means.std(ddof=1), 0):
            entry.update(t=None, p=None, reason="every rater has the same mean: no variance to test")
        else:
            test = ttest_1samp(means.to_numpy(), chance)
            entry.update(t=float(test.statistic), p=float(test.pvalue))
        out[measure] = entry
    return out
