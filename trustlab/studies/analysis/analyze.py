"""`analyze_study`: judgements -> summary.json, CSV tables and a self-contained report.html."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from trustlab.config import Settings
from trustlab.csv_safety import write_csv
from trustlab.db.schema import Study
from trustlab.studies.analysis.agreement import agreement, agreement_by_condition
from trustlab.studies.analysis.confirmatory import (
    confirmatory_pairs,
    label_and_correct,
    preregistration_fields,
    primary_result,
)
from trustlab.studies.analysis.estimators import ESTIMATORS
from trustlab.studies.analysis.faithfulness import faithfulness_vs_human
from trustlab.studies.analysis.flow import flow, item_table, learning_check
from trustlab.studies.analysis.inference import CI_LEVEL, METHOD, contrast_pairs, contrasts, estimate
from trustlab.studies.analysis.load import StudyData, load_study_data
from trustlab.studies.analysis.mixed import verification_model
from trustlab.studies.analysis.raters import EXCLUSION_RULE, per_rater
from trustlab.studies.analysis.truth import (
    check_labels,
    current_labels_sensitivity,
    exclusions,
    label_changes,
    scoreable,
)

SUMMARY_FILE = "summary.json"
# Item resamples for the agreement intervals.
DEFAULT_REPLICATES = 1000
# Measured by tests/studies/test_inference_calibration.py (400 simulated null studies, seed 12).
CALIBRATION = (
    "95% intervals covered the true contrast in 0.96-0.97 of 400 simulated null studies (15-40 raters, "
    "30-80 items, within and between designs) for verification accuracy, over-reliance, mean trust and d'"
)


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


@dataclass(frozen=True)
class Analysis:
    """What ``summarize`` returns: the summary dict (the structure of summary.json, not yet JSON-clean)
    and the validated judgements it analysed (None when there were none), for the CSVs and plots."""

    summary: dict[str, Any]
    frame: pd.DataFrame | None


def _study_block(data: StudyData) -> dict[str, Any]:
    config = data.config
    return {
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
    }


def _condition_entry(sub: pd.DataFrame, n_classes: int) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "n": int(len(sub)),
        "n_raters": int(sub["rater_id"].nunique()),
        "n_items": int(sub["item_id"].nunique()),
    }
    for measure in ESTIMATORS:
        entry[measure] = estimate(sub, measure)
    times = pd.to_numeric(sub["time_ms"], errors="coerce").dropna()
    entry["median_response_ms"] = float(times.median()) if len(times) else None
    entry["per_rater"] = per_rater(sub, n_classes=n_classes)
    return entry


def summarize(
    data: StudyData,
    *,
    replicates: int = DEFAULT_REPLICATES,
    seed: int | None = None,
    labels: str = "frozen",
) -> Analysis:
    """Analyse a loaded study (pure apart from the input).

    ``replicates`` is the number of item resamples for the agreement intervals; the measures' and
    contrasts' intervals are closed form (``inference.py``). The analysis scores the labels frozen at
    ``study create``; ``labels="current"`` adds ``sensitivity.current_labels``, the primary measures
    and contrasts re-scored against the items' current labels (``truth.py``).
    """
    check_labels(labels)
    config = data.config
    summary = _summary_head(data)
    regular = _exclude_raters(summary, data)
    if regular.empty:
        summary["notes"].append(
            "no judgements to analyse yet (after exclusions): run the study or "
            "`trustlab simulate-raters` first"
        )
        summary.update(_no_results(data))
        return Analysis(summary, None)
    data_v = scoreable(regular, summary["notes"])
    conditions = list(config.conditions)
    summary["conditions"] = {
        c: _condition_entry(data_v[data_v["condition"] == c], len(data.class_names)) for c in conditions
    }
    if len(conditions) < 2:
        summary["notes"].append("one condition only: there are no contrasts between conditions")
    summary.update(_results(data, data_v, replicates=replicates, seed=seed))
    _label_sensitivity(summary, data.judgements, config, labels, data.screened_out)
    if data.study.status != "closed":
        summary["notes"].append(
            f"the study is {data.study.status}: this is an interim analysis of a running study (an "
            "unblinded look); the confirmatory result is the one after `trustlab study close`"
        )
    return Analysis(summary, data_v)


def _summary_head(data: StudyData) -> dict[str, Any]:
    """The summary's opening: the study, (empty) notes, what each measure means and how it is inferred."""
    return {
        "study": _study_block(data),
        "notes": [],
        "measures": {name: m.description for name, m in ESTIMATORS.items()},
        "inference": {
            "method": METHOD,
            "interval": f"{CI_LEVEL:.0%} t interval (unadjusted); contrasts also carry Holm-consistent ones",
            "p_adjust": "Holm: the confirmatory contrasts are one family; each other measure is its own "
            "exploratory family",
            "calibration": CALIBRATION,
        },
    }


def _exclude_raters(summary: dict[str, Any], data: StudyData) -> pd.DataFrame:
    """Record who is excluded and why, the participant flow and the counts analysed in ``summary``;
    return the regular (non-gold) judgements of the raters kept."""
    config = data.config
    gold, excluded, regular = exclusions(data.judgements, config, data.screened_out)
    summary["excluded_raters"] = excluded
    summary["exclusion_rule"] = (
        f"{EXCLUSION_RULE} (max_failures = {config.gold.max_failures})"
        if config.gold.n
        else "no gold items in this study: nobody is excluded"
    ) + ("; participants the study screened out while it ran are excluded too" if data.screened_out else "")
    summary["flow"] = flow(data.assignments, data.judgements, excluded)
    summary["study"].update(
        n_judgements=int(len(regular)),
        n_raters=int(regular["rater_id"].nunique()),
        n_items=int(regular["item_id"].nunique()),
        n_gold_judgements=int(len(gold)),
    )
    return regular


def _no_results(data: StudyData) -> dict[str, Any]:
    """Every result section of a study with nothing to analyse, each saying so."""
    config = data.config
    return {
        "conditions": {},
        "contrasts": [],
        "primary": {"measure": config.analysis.primary, "contrasts": [], "reason": "no judgements",
                    **preregistration_fields(config, data.preregistration)},
        "mixed_model": {"error": "no judgements", "role": "exploratory"},
        "agreement": {},
        "items": [],
        "learning": {"reason": "no judgements"},
        "faithfulness_vs_human": {},
    }


def _results(data: StudyData, data_v: pd.DataFrame, *, replicates: int, seed: int | None) -> dict[str, Any]:
    """The result sections from the scoreable judgements: contrasts (the confirmatory pairs first), the
    primary result, the learning check, items, the mixed model, agreement and faithfulness."""
    config = data.config
    conditions = list(config.conditions)
    primary_pairs = confirmatory_pairs(config)
    reversed_primary = {(b, a) for a, b in primary_pairs}
    pairs = list(
        dict.fromkeys([*primary_pairs, *(p for p in contrast_pairs(conditions) if p not in reversed_primary)])
    )
    rows = label_and_correct(contrasts(data_v, conditions, pairs=pairs), config)
    return {
        "contrasts": rows,
        "primary": primary_result(rows, config, data.preregistration),
        "learning": learning_check(data_v, conditions),
        "items": item_table(data_v),
        "mixed_model": verification_model(data_v, conditions),
        "agreement": {
            **agreement(data_v),
            "by_condition": agreement_by_condition(
                data_v, conditions, replicates=replicates, seed=config.seed if seed is None else seed
            ),
        },
        "faithfulness_vs_human": faithfulness_vs_human(data_v, data.scores),
    }


def _label_sensitivity(
    summary: dict[str, Any], df: pd.DataFrame, config: Any, labels: str, screened_out: dict[int, str]
) -> None:
    """Add sensitivity.current_labels (labels == "current"), else a note when labels changed."""
    if "current_label" not in df:
        return
    if labels == "current":
        sensitivity = current_labels_sensitivity(df, config, summary, screened_out)
        summary["sensitivity"] = {"current_labels": sensitivity}
        return
    changed = label_changes(df)["items_changed"]
    if changed:
        summary["notes"].append(
            f"{changed} rated items' labels changed since study create; this analysis scores the labels "
            f"frozen then; `trustlab analyze {summary['study']['name']} --labels current` adds the "
            "sensitivity analysis against the current labels"
        )


# The columns of each CSV table written from the summary (a table keeps them even when empty).
CONDITION_COLUMNS = ["condition", "measure", "mean", "ci_low", "ci_high", "se", "df", "reason"]
CONTRAST_COLUMNS = [
    "a", "b", "measure", "role", "diff", "ci_low", "ci_high", "se", "df", "p", "p_holm", "ci_low_adj",
    "ci_high_adj", "n_a", "n_b",
]
ITEM_COLUMNS = [
    "item_id", "n", "model_correct", "difficulty", "verify_agreement", "mean_trust", "cant_tell_rate",
    "conditions",
]
EXCLUDED_COLUMNS = ["rater_id", "rater", "gold_seen", "gold_failures", "reason"]
MIXED_COLUMNS = ["term", "log_odds", "sd", "ci_low", "ci_high", "odds_ratio"]
FAITHFULNESS_COLUMNS = ["method", "score", "outcome", "rho", "p", "n_items", "reason"]


def _write_tables(summary: dict[str, Any], frame: pd.DataFrame | None, out: Path) -> list[str]:
    """Write the summary's tables (and, with judgements, per_rater.csv and judgements.csv) as CSV files
    in ``out``; return their names."""
    tables = _summary_tables(summary)
    if frame is not None:
        tables.update(_judgement_tables(frame))
    written = []
    for name, table in tables.items():
        write_csv(table, out / name, index=False)
        written.append(name)
    return written


def _summary_tables(summary: dict[str, Any]) -> dict[str, pd.DataFrame]:
    """The summary's sections as tables, by file name."""
    rows = [
        {"condition": c, "measure": m, **v}
        for c, entry in summary.get("conditions", {}).items()
        for m, v in entry.items()
        if isinstance(v, dict) and "mean" in v
    ]
    flow_rows = [
        {"condition": c, **{k: v for k, v in e.items() if k != "excluded"}, "excluded": e["excluded"]["n"]}
        for c, e in summary.get("flow", {}).items()
    ]
    faith = [
        {"method": m, "score": k, "outcome": o, **v}
        for m, keys in summary.get("faithfulness_vs_human", {}).items()
        if isinstance(keys, dict)
        for k, outcomes in keys.items()
        if isinstance(outcomes, dict)  # "_reason" entries say why a method has no correlations
        for o, v in outcomes.items()
    ]
    return {
        "conditions.csv": pd.DataFrame(rows, columns=CONDITION_COLUMNS),
        "contrasts.csv": pd.DataFrame(summary.get("contrasts", []), columns=CONTRAST_COLUMNS),
        "items.csv": pd.DataFrame(summary.get("items", []), columns=ITEM_COLUMNS),
        "flow.csv": pd.DataFrame(flow_rows),
        "excluded_raters.csv": pd.DataFrame(summary.get("excluded_raters", []), columns=EXCLUDED_COLUMNS),
        "mixed_model.csv": pd.DataFrame(
            summary.get("mixed_model", {}).get("coefficients", []), columns=MIXED_COLUMNS
        ),
        "faithfulness_vs_human.csv": pd.DataFrame(faith, columns=FAITHFULNESS_COLUMNS),
    }


def _judgement_tables(frame: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Per-rater means per condition, and the analysed judgements themselves (answers left out)."""
    per = (
        frame.groupby(["rater_id", "rater", "condition"])[
            ["verify_correct", "sim_correct", "label_correct", "trust_value"]
        ]
        .mean()
        .reset_index()
    )
    keep = [c for c in frame.columns if c not in ("answers", "gold_answers")]
    return {"per_rater.csv": per, "judgements.csv": frame[keep]}


def analyze_study(
    settings: Settings,
    study: str | Study,
    out_dir: str | Path,
    *,
    replicates: int = DEFAULT_REPLICATES,
    labels: str = "frozen",
) -> dict[str, Any]:
    """Analyse a study: write DIR/summary.json, DIR/*.csv and DIR/report.html; return the summary.

    ``labels="current"`` adds the sensitivity analysis against the items' current labels (``summarize``).

    Never fails on sparse data: undefined measures are null with a ``reason``, and ``notes`` says why
    whole sections are empty.
    """
    from trustlab.studies.analysis.report.document import render_report

    check_labels(labels)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    data = load_study_data(settings, study)
    result = summarize(data, replicates=replicates, labels=labels)
    frame = result.frame
    summary = _jsonable(result.summary)
    summary["files"] = _write_tables(summary, frame, out) + [SUMMARY_FILE, "report.html"]
    (out / SUMMARY_FILE).write_text(json.dumps(summary, indent=2, default=str), encoding="utf-8")
    (out / "report.html").write_text(render_report(summary, frame), encoding="utf-8")
    return summary
