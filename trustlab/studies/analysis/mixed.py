"""Exploratory: a Bayesian mixed-effects logistic regression of verification correctness on condition,
with rater and item random intercepts (statsmodels' BinomialBayesMixedGLM, mean-field variational
Bayes). It is not the primary inference (see inference.py): mean-field VB is known to understate
posterior spread, no maximum-likelihood GLMM with crossed effects is installed, and the intervals are
posterior mean +- 1.96 posterior SD under the priors named in the result. Convergence warnings are
caught and reported, not hidden."""

from __future__ import annotations

import logging
import warnings
from typing import Any

import numpy as np
import pandas as pd

from trustlab.studies.config.study import NO_EXPLANATION

log = logging.getLogger(__name__)

# Posterior mean +- this many SDs gives the reported 95% credible interval.
Z_95 = 1.959963984540054
# statsmodels' defaults, passed explicitly so that the report can name them.
FIXED_EFFECT_PRIOR_SD = 2.0  # Normal(0, 2^2) on each log-odds coefficient
LOG_SD_PRIOR_SD = 1.0  # Normal(0, 1) on the log of each random-effect standard deviation


def verification_model(df: pd.DataFrame, conditions: list[str]) -> dict[str, Any]:
    """Fit correct ~ condition + (1|rater) + (1|item); the reference level is ``none`` if present.

    Returns {reference, coefficients: [{term, log_odds, sd, ci_low, ci_high, odds_ratio}], rater_sd,
    item_sd, n, method, role: "exploratory", interval, priors, converged, warnings} or {error: reason}.
    """
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
        names, result, problems = _fit(data, formula)
    except (ValueError, np.linalg.LinAlgError) as exc:
        log.debug("the mixed model did not fit", exc_info=True)
        return {"error": f"the mixed model did not fit: {exc}", "role": "exploratory"}
    vc_sd = np.exp(result.vcp_mean)  # vcp are log standard deviations of the random effects
    return {
        "formula": f"{formula} + (1|rater) + (1|item)",
        "reference": reference,
        "coefficients": _coefficients(names, result, reference),
        "rater_sd": float(vc_sd[0]),
        "item_sd": float(vc_sd[1]),
        "n": int(len(data)),
        "method": "statsmodels BinomialBayesMixedGLM.fit_vb (mean-field variational Bayes)",
        "role": "exploratory",
        "interval": "95% credible interval: posterior mean +- 1.96 posterior SD (VB understates spread)",
        "priors": {
            "fixed_effects": f"Normal(0, {FIXED_EFFECT_PRIOR_SD:g}^2) on each log-odds coefficient",
            "random_effect_sd": f"log SD ~ Normal(0, {LOG_SD_PRIOR_SD:g}^2) for raters and for items",
        },
        "converged": not problems,
        "warnings": problems,
    }


def _fit(data: pd.DataFrame, formula: str) -> tuple[list[str], Any, list[str]]:
    """Fit the model by variational Bayes: (fixed-effect names, the fit, the optimiser's convergence
    warnings). Raises ValueError or LinAlgError when it cannot be fitted."""
    from statsmodels.genmod.bayes_mixed_glm import BinomialBayesMixedGLM
    from statsmodels.tools.sm_exceptions import ConvergenceWarning

    model = BinomialBayesMixedGLM.from_formula(
        formula,
        {"rater": "0 + C(rater)", "item": "0 + C(item)"},
        data,
        vcp_p=LOG_SD_PRIOR_SD,
        fe_p=FIXED_EFFECT_PRIOR_SD,
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = model.fit_vb()
    # Only the optimiser's own warnings say it did not converge (other libraries' deprecation notes don't).
    problems = sorted({str(w.message).strip() for w in caught if issubclass(w.category, ConvergenceWarning)})
    return list(model.exog_names), result, problems


def _coefficients(names: list[str], result: Any, reference: str) -> list[dict[str, Any]]:
    """Each fixed effect's posterior mean (log odds), SD, 95% credible interval and odds ratio."""
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
    return coefficients
