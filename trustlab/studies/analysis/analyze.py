"""`analyze_study`: judgements -> summary.json, CSV tables and a self-contained report.html."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from trustlab.config import Settings
from trustlab.db.schema import Study
from trustlab.studies.analysis.agreement import agreement
from trustlab.studies.analysis.bootstrap import DEFAULT_REPLICATES, cluster_weights, contrasts, estimate
from trustlab.studies.analysis.faithfulness import faithfulness_vs_human
from trustlab.studies.analysis.load import StudyData, load_study_data
from trustlab.studies.analysis.measures import MEASURES, validate_judgements
from trustlab.studies.analysis.mixed import verification_model
from trustlab.studies.analysis.raters import EXCLUSION_RULE, excluded_raters, per_rater

SUMMARY_FILE = "summary.json"


def _jsonable(value: Any) -> Any:
    """NaN/inf -> None, numpy scalars -> Python, recursively (summary.json is strict JSON)."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (np.bool_, bool)):
        return bool(value)
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return None if not math.isfinite(float(value)) else float(value)
    return value


def summarize(
    data: StudyData, *, replicates: int = DEFAULT_REPLICATES, seed: int | None = None
) -> dict[str, Any]:
    """The summary dict (the structure of summary.json) of a loaded study; pure apart from the input."""
    config = data.config
    df = data.judgements
    summary: dict[str, Any] = {
        "study": {
            "name": data.study.name,
            "id": data.study.id,
            "status": data.study.status,
            "dataset": config.dataset,
            "model": data.model_name,
            "design": config.design,
            "conditions": list(config.conditions),
            "tasks": list(config.tasks),
            "likert_points": config.likert_points,
            "classes": data.class_names,
            "raters_per_item": config.raters_per_item,
            "items_per_rater": config.items_per_rater,
        },
        "notes": [],
        "measures": {name: m.description for name, m in MEASURES.items()},
    }
    gold = df[df["is_gold"].astype(bool)] if len(df) else df
    excluded = excluded_raters(
        gold,
        max_failures=config.gold.max_failures,
        handles=dict(zip(df["rater_id"], df["rater"], strict=False)),
    )
    summary["excluded_raters"] = excluded
    summary["exclusion_rule"] = (
        f"{EXCLUSION_RULE} (max_failures = {config.gold.max_failures})"
        if config.gold.n
        else "no gold items in this study: nobody is excluded"
    )
    excluded_ids = {row["rater_id"] for row in excluded}
    regular = df[~df["is_gold"].astype(bool) & ~df["rater_id"].isin(excluded_ids)] if len(df) else df
    summary["study"].update(
        n_judgements=int(len(regular)),
        n_raters=int(regular["rater_id"].nunique()),
        n_items=int(regular["item_id"].nunique()),
        n_gold_judgements=int(len(gold)),
    )
    if regular.empty:
        summary["notes"].append(
            "no judgements to analyse yet (after exclusions): run the study or "
            "`trustlab simulate-raters` first"
        )
        summary.update(
            conditions={},
            contrasts=[],
            mixed_model={"error": "no judgements"},
            agreement={},
            faithfulness_vs_human={},
        )
        return _jsonable(summary)
    data_v = validate_judgements(regular.reset_index(drop=True))
    if data_v["model_correct"].isna().any():
        summary["notes"].append(
            "some items have no held-out prediction of the model: their verify answers cannot be scored"
        )
        data_v = data_v[data_v["model_correct"].notna()].reset_index(drop=True)
    data_v["model_correct"] = data_v["model_correct"].astype(bool)
    if not (~data_v["model_correct"]).any():
        summary["notes"].append(
            "the model is right on every rated item: measures on model errors are undefined"
        )
    weights = cluster_weights(data_v, replicates=replicates, seed=config.seed if seed is None else seed)
    conditions: dict[str, Any] = {}
    for condition in config.conditions:
        mask = (data_v["condition"] == condition).to_numpy()
        sub = data_v[mask]
        entry: dict[str, Any] = {
            "n": int(mask.sum()),
            "n_raters": int(sub["rater_id"].nunique()),
            "n_items": int(sub["item_id"].nunique()),
        }
        for measure in MEASURES:
            entry[measure] = estimate(sub, weights[:, mask], measure)
        times = pd.to_numeric(sub["time_ms"], errors="coerce").dropna()
        entry["median_response_ms"] = float(times.median()) if len(times) else None
        entry["per_rater"] = per_rater(sub, n_classes=len(data.class_names))
        conditions[condition] = entry
    summary["conditions"] = conditions
    if len(config.conditions) < 2:
        summary["notes"].append("one condition only: there are no contrasts between conditions")
    summary["contrasts"] = contrasts(data_v, weights, list(config.conditions))
    summary["bootstrap"] = {
        "replicates": int(weights.shape[0]),
        "clusters": "raters and items (two-way)",
        "interval": "95% percentile",
        "p_adjust": "Holm, within each measure",
    }
    summary["mixed_model"] = verification_model(data_v, list(config.conditions))
    summary["agreement"] = agreement(data_v)
    summary["faithfulness_vs_human"] = faithfulness_vs_human(data_v, data.scores)
    summary["_frame"] = data_v  # removed before writing; used for the CSVs and plots
    return summary


def _write_tables(summary: dict[str, Any], frame: pd.DataFrame | None, out: Path) -> list[str]:
    written = []
    rows = [
        {"condition": c, "measure": m, **v}
        for c, entry in summary.get("conditions", {}).items()
        for m, v in entry.items()
        if isinstance(v, dict) and "mean" in v
    ]
    tables = {
        "conditions.csv": pd.DataFrame(
            rows, columns=["condition", "measure", "mean", "ci_low", "ci_high", "reason"]
        ),
        "contrasts.csv": pd.DataFrame(
            summary.get("contrasts", []),
            columns=["a", "b", "measure", "diff", "ci_low", "ci_high", "p", "p_holm", "n_a", "n_b"],
        ),
        "excluded_raters.csv": pd.DataFrame(
            summary.get("excluded_raters", []), columns=["rater_id", "rater", "gold_seen", "gold_failures"]
        ),
        "mixed_model.csv": pd.DataFrame(
            summary.get("mixed_model", {}).get("coefficients", []),
            columns=["term", "log_odds", "sd", "ci_low", "ci_high", "odds_ratio"],
        ),
    }
    faith = [
        {"method": m, "score": k, "outcome": o, **v}
        for m, keys in summary.get("faithfulness_vs_human", {}).items()
        if isinstance(keys, dict)
        for k, outcomes in keys.items()
        if isinstance(outcomes, dict)  # "_reason" entries say why a method has no correlations
        for o, v in outcomes.items()
    ]
    tables["faithfulness_vs_human.csv"] = pd.DataFrame(
        faith, columns=["method", "score", "outcome", "rho", "p", "n_items", "reason"]
    )
    if frame is not None:
        per = (
            frame.groupby(["rater_id", "rater", "condition"])[
                ["verify_correct", "sim_correct", "label_correct", "trust_value"]
            ]
            .mean()
            .reset_index()
        )
        tables["per_rater.csv"] = per
        keep = [c for c in frame.columns if c not in ("answers", "gold_answers")]
        tables["judgements.csv"] = frame[keep]
    for name, table in tables.items():
        table.to_csv(out / name, index=False)
        written.append(name)
    return written


def analyze_study(
    settings: Settings, study: str | Study, out_dir: str | Path, *, replicates: int = DEFAULT_REPLICATES
) -> dict[str, Any]:
    """Analyse a study: write DIR/summary.json, DIR/*.csv and DIR/report.html; return the summary.

    Never fails on sparse data: undefined measures are null with a ``reason``, and ``notes`` says why
    whole sections are empty.
    """
    from trustlab.studies.analysis.report import render_report

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    data = load_study_data(settings, study)
    summary = summarize(data, replicates=replicates)
    frame = summary.pop("_frame", None)
    summary = _jsonable(summary)
    summary["files"] = _write_tables(summary, frame, out) + [SUMMARY_FILE, "report.html"]
    (out / SUMMARY_FILE).write_text(json.dumps(summary, indent=2, default=str), encoding="utf-8")
    (out / "report.html").write_text(render_report(summary, frame), encoding="utf-8")
    return summary
