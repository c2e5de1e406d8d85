"""Mixed-effects logistic regression of verification correctness on condition, with rater and item
random intercepts (statsmodels' BinomialBayesMixedGLM, variational Bayes)."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd

from trustlab.studies.config import NO_EXPLANATION

# Posterior mean +- this many SDs gives the reported 95% interval.
Z_95 = 1.959963984540054


def verification_model(df: pd.DataFrame, conditions: list[str]) -> dict[str, Any]:
    """Fit correct ~ condition + (1|rater) + (1|item); the reference level is ``none`` if present.

    Returns {reference, coefficients: [{condition, log_odds, sd, ci_low, ci_high, odds_ratio}],
    rater_sd, item_sd, n} or {error: reason}.
    """
    from statsmodels.genmod.bayes_mixed_glm import BinomialBayesMixedGLM

    data = df.dropna(subset=["verify_correct"])
    present = [c for c in conditions if c in set(data["condition"])]
    if len(data) < 10 or data["verify_correct"].nunique() < 2:
        return {"error": "too few verify answers (or all the same) to fit the mixed model"}
    if data["rater_id"].nunique() < 2 or data["item_id"].nunique() < 2:
        return {"error": "the mixed model needs at least two raters and two items"}
    reference = NO_EXPLANATION if NO_EXPLANATION in present else present[0]
    data = data.assign(
        cond=pd.Categorical(
            data["condition"], categories=[reference] + [c for c in present if c != reference]
        ),
        rater=data["rater_id"].astype(str),
        item=data["item_id"].astype(str),
    )
    formula = "verify_correct ~ C(cond)" if len(present) > 1 else "verify_correct ~ 1"
    try:
        model = BinomialBayesMixedGLM.from_formula(
            formula, {"rater": "0 + C(rater)", "item": "0 + C(item)"}, data
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = model.fit_vb()
    except (ValueError, np.linalg.LinAlgError) as exc:
        return {"error": f"the mixed model did not fit: {exc}"}
    names = list(model.exog_names)
    coefficients = []
    for name, mean, sd in zip(names, result.fe_mean, result.fe_sd, strict=True):
        label = "(intercept: " + reference + ")" if name == "Intercept" else name.split("[T.")[-1].rstrip("]")
        coefficients.append(
            {
                "term": label,
                "log_odds": float(mean),
                "sd": float(sd),
                "ci_low": float(mean - Z_95 * sd),
                "ci_high": float(mean + Z_95 * sd),
                "odds_ratio": float(np.exp(mean)),
            }
        )
    vc_sd = np.exp(result.vcp_mean)  # vcp are log standard deviations of the random effects
    return {
        "formula": f"{formula} + (1|rater) + (1|item)",
        "reference": reference,
        "coefficients": coefficients,
        "rater_sd": float(vc_sd[0]),
        "item_sd": float(vc_sd[1]),
        "n": int(len(data)),
        "method": "statsmodels BinomialBayesMixedGLM.fit_vb (variational Bayes)",
    }
