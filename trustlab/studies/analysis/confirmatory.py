"""Confirmatory vs exploratory: the study's primary measure and contrasts under Holm's correction, and
intervals that agree with it.

An interval agrees with Holm's step-down test when it is drawn at the step's level: sort the family's p
ascending; row k (0-based) of m is tested at alpha / (m - k) until the first row that is not rejected,
whose level every later row keeps. A row's interval at ``1 - level`` excludes 0 exactly when its
Holm-adjusted p is below alpha, so the report's colours and intervals tell the same story.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from trustlab.studies.analysis.inference import adjusted_interval, contrast_pairs, holm
from trustlab.studies.config.study import NO_EXPLANATION, AnalysisSpec, StudyConfig
from trustlab.studies.design.preregistered import preregistration_status
from trustlab.wording import counted


def holm_levels(p_values: Sequence[float | None], alpha: float) -> list[float | None]:
    """Per row, the two-sided test level of Holm's step-down procedure (see the module docstring)."""
    p = np.array([np.nan if v is None else v for v in p_values], float)
    ok = np.flatnonzero(np.isfinite(p))
    order = ok[np.argsort(p[ok], kind="stable")]
    m = len(order)
    levels: list[float | None] = [None] * len(p)
    level, stopped = alpha / max(m, 1), False
    for rank, index in enumerate(order):
        if not stopped:
            level = alpha / (m - rank)
            stopped = p[index] >= level
        levels[index] = level
    return levels


def add_family_intervals(rows: list[dict[str, Any]], alpha: float) -> None:
    """Give each row (one Holm family, with se/df/p) ``ci_low_adj``/``ci_high_adj``: its interval at
    its Holm step's level, which excludes 0 exactly when ``p_holm < alpha``."""
    for row, level in zip(rows, holm_levels([r.get("p") for r in rows], alpha), strict=True):
        low, high = adjusted_interval(row, 1 - level) if level is not None else (None, None)
        row["ci_low_adj"], row["ci_high_adj"] = low, high


def confirmatory_pairs(config: StudyConfig) -> list[tuple[str, str]]:
    """The primary contrasts: from the config's ``analysis.contrasts``, else each condition against
    none (or every pair when there is no none)."""
    spec = config.analysis
    if spec.contrasts:
        return [tuple(p) for p in spec.contrasts]
    pairs = contrast_pairs(list(config.conditions))
    against_none = [p for p in pairs if p[1] == NO_EXPLANATION]
    return against_none or pairs


def label_and_correct(rows: list[dict[str, Any]], config: StudyConfig) -> list[dict[str, Any]]:
    """Mark each contrast row ``role`` confirmatory (the primary measure on a primary pair) or
    exploratory, and recompute ``p_holm`` and the adjusted interval within each family: the
    confirmatory rows are one family; every other measure's pairs (and the primary measure's other
    pairs) are an exploratory family per measure."""
    spec: AnalysisSpec = config.analysis
    primary_pairs = set(confirmatory_pairs(config))
    families: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for row in rows:
        confirmatory = row["measure"] == spec.primary and (row["a"], row["b"]) in primary_pairs
        row["role"] = "confirmatory" if confirmatory else "exploratory"
        families.setdefault((row["measure"], row["role"]), []).append(row)
    for family in families.values():
        adjusted = holm([np.nan if r["p"] is None else r["p"] for r in family])
        for row, p_holm in zip(family, adjusted, strict=True):
            row["p_holm"] = None if not np.isfinite(p_holm) else float(p_holm)
        add_family_intervals(family, spec.alpha)
    return rows


def primary_result(
    rows: list[dict[str, Any]], config: StudyConfig, preregistration: dict[str, Any] | None = None
) -> dict[str, Any]:
    """summary["primary"]: the primary measure, its contrasts with Holm-adjusted p and Holm-consistent
    intervals, which of them are significant at the family-wise alpha, and whether it was
    pre-registered (``preregistration``: ``preregistered.preregistration_status``; None counts as no
    record, so not pre-registered)."""
    spec = config.analysis
    pairs = confirmatory_pairs(config)
    found = {(r["a"], r["b"]): r for r in rows if r["role"] == "confirmatory"}
    results = []
    for a, b in pairs:
        row = found.get((a, b))
        if row is None:
            results.append({"a": a, "b": b, "reason": f"{spec.primary} is undefined in {a} or {b}"})
            continue
        keep = ("diff", "ci_low", "ci_high", "ci_low_adj", "ci_high_adj", "se", "df", "p", "p_holm")
        significant = row["p_holm"] is not None and row["p_holm"] < spec.alpha
        results.append({"a": a, "b": b, **{k: row.get(k) for k in keep}, "significant": significant})
    return {
        "measure": spec.primary,
        "alpha": spec.alpha,
        "correction": f"Holm over the {counted(len(pairs), 'confirmatory contrast')}; intervals at Holm's "
        "step level",
        **preregistration_fields(config, preregistration),
        "contrasts": results,
    }


def preregistration_fields(config: StudyConfig, preregistration: dict[str, Any] | None) -> dict[str, Any]:
    """{preregistered, preregistration} for summary["primary"]."""
    status = preregistration or preregistration_status(None, config)
    return {"preregistered": bool(status["preregistered"]), "preregistration": status}
