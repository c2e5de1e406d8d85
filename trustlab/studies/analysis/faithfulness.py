"""Do automatic faithfulness scores predict what raters got out of an explanation?

For each method, each item's faithfulness scores (whatever keys the explainer stored: deletion_auc,
insertion_auc, road, pointing_game, ...) are correlated (Spearman) with the human outcomes on that item
under conditions that show the method: verification accuracy, mean trust and mean helpfulness.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import spearmanr

from trustlab.studies.config.study import condition_methods

HUMAN_OUTCOMES = {
    "verification_accuracy": "verify_correct",
    "mean_trust": "trust_value",
    "mean_helpfulness": "helpfulness",
}
MIN_ITEMS = 3


def faithfulness_vs_human(df: pd.DataFrame, scores: pd.DataFrame) -> dict[str, Any]:
    """Spearman correlations per method, score key and human outcome.

    Parameters
    ----------
    df: validated judgements (one row each).
    scores: one row per (item_id, method) with a ``faithfulness`` dict.

    Returns {method: {score_key: {outcome: {rho, p, n_items} or {rho: None, reason}}}}.
    """
    out: dict[str, Any] = {}
    if scores.empty:
        return {"_reason": "no explanations with faithfulness scores for the study's items"}
    helpfulness = pd.to_numeric(df.get("helpfulness"), errors="coerce") if "helpfulness" in df else np.nan
    df = df.assign(helpfulness=helpfulness)
    shown = df["condition"].map(condition_methods)
    for method, rows in scores.groupby("method"):
        mask = shown.map(lambda methods, m=method: m in methods)
        human = df[mask].groupby("item_id")[list(HUMAN_OUTCOMES.values())].mean()
        automatic = pd.DataFrame(
            [{"item_id": r.item_id, **(r.faithfulness or {})} for r in rows.itertuples()]
        )
        automatic = automatic.groupby("item_id").last()
        keys = [k for k in automatic.columns if pd.api.types.is_numeric_dtype(automatic[k])]
        entry: dict[str, Any] = {}
        if human.empty:
            out[str(method)] = {"_reason": f"no judgements in a condition that shows {method}"}
            continue
        if not keys:
            out[str(method)] = {"_reason": f"{method} explanations carry no numeric faithfulness scores"}
            continue
        joined = automatic[keys].join(human, how="inner")
        for key in keys:
            entry[key] = {}
            for outcome, column in HUMAN_OUTCOMES.items():
                pair = joined[[key, column]].dropna()
                if len(pair) < MIN_ITEMS:
                    entry[key][outcome] = {
                        "rho": None,
                        "n_items": int(len(pair)),
                        "reason": f"fewer than {MIN_ITEMS} items with both values",
                    }
                elif pair[key].nunique() < 2 or pair[column].nunique() < 2:
                    entry[key][outcome] = {
                        "rho": None,
                        "n_items": int(len(pair)),
                        "reason": "one of the two is constant across items",
                    }
                else:
                    rho, p = spearmanr(pair[key], pair[column])
                    entry[key][outcome] = {"rho": float(rho), "p": float(p), "n_items": int(len(pair))}
        out[str(method)] = entry
    return out
