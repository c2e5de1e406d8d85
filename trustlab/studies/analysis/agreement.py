"""Inter-rater agreement: Krippendorff's alpha (krippendorff package) and Fleiss' kappa (statsmodels)."""

from __future__ import annotations

from typing import Any

import krippendorff
import numpy as np
import pandas as pd
from statsmodels.stats.inter_rater import fleiss_kappa

# Fewer than this many items rated by at least two raters leaves agreement undefined.
MIN_PAIRABLE_ITEMS = 2


def _nan(reason: str) -> dict[str, Any]:
    return {"value": None, "reason": reason}


def reliability_matrix(df: pd.DataFrame, column: str) -> tuple[np.ndarray, list[Any]]:
    """Raters x items matrix of codes (NaN = not rated) and the value domain in code order.

    ``df`` has columns rater_id, item_id and ``column``; missing answers are dropped.
    """
    rated = df[["rater_id", "item_id", column]].dropna()
    domain = sorted(rated[column].unique().tolist())
    codes = {value: index for index, value in enumerate(domain)}
    table = rated.assign(code=rated[column].map(codes)).pivot_table(
        index="rater_id", columns="item_id", values="code", aggfunc="last"
    )
    return table.to_numpy(dtype=float), domain


def krippendorff_alpha(df: pd.DataFrame, column: str, level: str, *, numeric: bool = False) -> dict[str, Any]:
    """Krippendorff's alpha of ``column`` at ``level`` (nominal, ordinal, interval).

    Nominal answers (class names) are coded as integers; ordinal and interval answers must be numbers
    (``numeric=True``) and keep their values, so distances are on the rating scale.
    """
    if column not in df.columns or df[column].notna().sum() == 0:
        return _nan(f"no {column} answers")
    if numeric:
        rated = df[["rater_id", "item_id", column]].dropna()
        matrix = rated.pivot_table(
            index="rater_id", columns="item_id", values=column, aggfunc="last"
        ).to_numpy(float)
    else:
        matrix, _ = reliability_matrix(df, column)
    pairable = (np.sum(~np.isnan(matrix), axis=0) >= 2).sum()
    if pairable < MIN_PAIRABLE_ITEMS:
        return _nan(f"fewer than {MIN_PAIRABLE_ITEMS} items have {column} answers from two or more raters")
    if len(np.unique(matrix[~np.isnan(matrix)])) < 2:
        return _nan("every rating is the same value: alpha is undefined")
    value = krippendorff.alpha(reliability_data=matrix, level_of_measurement=level)
    return {"value": float(value), "n_items": int(pairable), "n_raters": int(matrix.shape[0])}


def fleiss(df: pd.DataFrame, column: str) -> dict[str, Any]:
    """Fleiss' kappa of ``column``; defined only when every item has the same number of ratings."""
    rated = df[["item_id", column]].dropna()
    if rated.empty:
        return _nan(f"no {column} answers")
    counts = pd.crosstab(rated["item_id"], rated[column])
    per_item = counts.sum(axis=1)
    if per_item.nunique() != 1:
        return _nan(
            f"items have different numbers of {column} ratings ({per_item.min()}..{per_item.max()}); "
            "Fleiss' kappa needs the same number per item (use Krippendorff's alpha)"
        )
    if int(per_item.iloc[0]) < 2 or len(counts) < MIN_PAIRABLE_ITEMS:
        return _nan("Fleiss' kappa needs at least two items with two or more ratings each")
    if counts.shape[1] < 2:  # chance agreement is 1, so kappa is 0/0
        return _nan(f"every rating is the same ({counts.columns[0]!r}): Fleiss' kappa is undefined")
    return {
        "value": float(fleiss_kappa(counts.to_numpy(), method="fleiss")),
        "n_items": int(len(counts)),
        "ratings_per_item": int(per_item.iloc[0]),
    }


def agreement(df: pd.DataFrame) -> dict[str, Any]:
    """agreement.true_label {krippendorff_alpha_nominal, fleiss_kappa} and agreement.trust
    {krippendorff_alpha_ordinal, krippendorff_alpha_interval} over validated, non-gold judgements."""
    labels = df.assign(answer=df["answer_true_label"].where(~df["cant_tell"].fillna(False).astype(bool)))
    trust = df.assign(trust_num=pd.to_numeric(df["trust_value"], errors="coerce"))
    return {
        "true_label": {
            "krippendorff_alpha_nominal": krippendorff_alpha(labels, "answer", "nominal"),
            "fleiss_kappa": fleiss(labels, "answer"),
        },
        "trust": {
            "krippendorff_alpha_ordinal": krippendorff_alpha(trust, "trust_num", "ordinal", numeric=True),
            "krippendorff_alpha_interval": krippendorff_alpha(trust, "trust_num", "interval", numeric=True),
        },
    }


# Answers whose agreement is reported per condition: (column of the validated table, level).
AGREEMENT_ANSWERS: dict[str, tuple[str, str]] = {
    "verify": ("accept", "nominal"),
    "true_label": ("answer_true_label", "nominal"),
    "trust": ("trust_value", "ordinal"),
}
AGREEMENT_CI_LEVEL = 0.95


def alpha_with_ci(
    df: pd.DataFrame, column: str, level: str, *, replicates: int, rng: np.random.Generator
) -> dict[str, Any]:
    """Krippendorff's alpha of ``column`` with a percentile interval from resampling items (the
    units; Hayes & Krippendorff 2007). {value, ci_low, ci_high, n_items, n_raters} or {value: None,
    reason}."""
    if column not in df.columns or df[column].notna().sum() == 0:
        return _nan(f"no {column} answers")
    matrix, domain = reliability_matrix(df, column)
    if level != "nominal":
        matrix = np.array(domain, float)[np.nan_to_num(matrix, nan=0).astype(int)] * np.where(
            np.isnan(matrix), np.nan, 1.0
        )
        domain = [float(v) for v in domain]
    else:
        domain = list(range(len(domain)))
    pairable = np.sum(~np.isnan(matrix), axis=0) >= 2
    matrix = matrix[:, pairable]
    if matrix.shape[1] < MIN_PAIRABLE_ITEMS:
        return _nan(f"fewer than {MIN_PAIRABLE_ITEMS} items have {column} answers from two or more raters")
    if len(np.unique(matrix[~np.isnan(matrix)])) < 2:
        return _nan("every rating is the same value: alpha is undefined")

    def alpha_of(m: np.ndarray) -> float:
        return float(krippendorff.alpha(reliability_data=m, level_of_measurement=level, value_domain=domain))

    value = alpha_of(matrix)
    draws = []
    for _ in range(replicates):
        sample = matrix[:, rng.integers(0, matrix.shape[1], matrix.shape[1])]
        if len(np.unique(sample[~np.isnan(sample)])) >= 2:
            draws.append(alpha_of(sample))
    tail = (1 - AGREEMENT_CI_LEVEL) / 2
    low, high = np.quantile(draws, [tail, 1 - tail]) if len(draws) >= 0.9 * replicates > 0 else (None, None)
    return {
        "value": value,
        "ci_low": None if low is None else float(low),
        "ci_high": None if high is None else float(high),
        "n_items": int(matrix.shape[1]),
        "n_raters": int(matrix.shape[0]),
    }


def agreement_by_condition(
    df: pd.DataFrame, conditions: list[str], *, replicates: int = 1000, seed: int = 0
) -> dict[str, Any]:
    """{condition or "all": {verify|true_label|trust: alpha_with_ci}} over validated, non-gold
    judgements; "can't tell" answers are left out (they are NaN in the validated columns)."""
    rng = np.random.default_rng(seed)
    labels = df.assign(
        answer_true_label=df["answer_true_label"].where(~df["cant_tell"].fillna(False).astype(bool))
    )
    out: dict[str, Any] = {}
    for name in [*conditions, "all"]:
        subset = labels if name == "all" else labels[labels["condition"] == name]
        out[name] = {
            answer: alpha_with_ci(subset, column, level, replicates=replicates, rng=rng)
            for answer, (column, level) in AGREEMENT_ANSWERS.items()
        }
    return out
