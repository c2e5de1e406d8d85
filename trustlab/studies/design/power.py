"""Simulation-based power of a study's confirmatory analysis (`trustlab study power`).

Each simulated study runs the study's own assignment and the analysis's own estimator:

* design: the config's items (``items.n``, of which ``items.model_errors`` are model errors) handed to
  R raters arriving in turn by ``assign.plan_rater`` (the code ``study create`` and the rater app
  use: each list at the study's model-error share, conditions balanced, Williams orders), with
  ``raters_per_item`` set to what R raters of ``items_per_rater`` items fill
  (ceil(R x items_per_rater / items.n)). Gold items are left out: the analysis never scores them.
  The plan is made once per R (it depends only on the config and its seed).
* answers: ``synthetic.answer_judgements``: P(verdict right) = base rate + N(0, rater SD) per rater +
  N(0, item SD) per item + the planted effect in condition a of the first confirmatory contrast [a, b].
* analysis: ``inference.contrasts`` on the config's confirmatory pairs and primary measure, Holm over
  that family (as ``analyze`` does). Power is the share of studies in which [a, b] has Holm p < alpha
  with the planted sign (any sign at effect 0: then it is the rejection rate under the null).

Rater SD, item SD, base rate and model error rate are stated defaults (those of ``analysis.synthetic``) unless
estimated from a pilot study (``pilot_inputs``). The effect acts on verdicts, so the primary measure
should be a verdict measure (verification accuracy, balanced accuracy, acceptance, d').
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from trustlab.config import Settings
from trustlab.db.schema import StudyItem
from trustlab.studies.analysis.confirmatory import confirmatory_pairs
from trustlab.studies.analysis.inference import contrasts
from trustlab.studies.analysis.load import load_study_data
from trustlab.studies.analysis.outcomes import validate_judgements
from trustlab.studies.analysis.synthetic import SyntheticStudy, answer_judgements
from trustlab.studies.analysis.truth import exclusions, scoreable
from trustlab.studies.config.study import StudyConfig
from trustlab.studies.design.assign import item_groups, plan_rater
from trustlab.studies.monitoring.outcome_blinding import study_blinding

# Stated defaults (those of analysis.synthetic): P(verdict right) = 0.7 + N(0, 0.05) rater + N(0, 0.15) item.
DEFAULT_VERIFY_ACCURACY, DEFAULT_RATER_SD, DEFAULT_ITEM_SD = 0.7, 0.05, 0.15
DEFAULT_MODEL_ERRORS = 0.3
DEFAULTS_SOURCE = "stated defaults (the synthetic studies' simulation)"
# Alternating-means iterations of the pilot's additive fit (converges well within this).
PILOT_ITERATIONS = 100
PILOT_METHOD = (
    "verdicts (1 = right) of the pilot's analysed raters (gold items and excluded raters left out) fitted "
    "by least squares as condition + rater + item (additive, alternating means); rater (item) SD = the SD "
    "of the fitted rater (item) effects with their sampling variance (residual variance / judgements "
    "per rater (item)) subtracted (method of moments, floored at 0); base rate = share of right verdicts "
    "in the reference condition b of the powered contrast (all conditions when the pilot lacks it); "
    "model error rate = share of the pilot's rated items the model gets wrong"
)


@dataclass(frozen=True)
class PowerInputs:
    """The answer model's parameters (probability scale) and where they come from."""

    verify_accuracy: float = DEFAULT_VERIFY_ACCURACY
    rater_sd: float = DEFAULT_RATER_SD
    item_sd: float = DEFAULT_ITEM_SD
    model_errors: float = DEFAULT_MODEL_ERRORS
    source: str = DEFAULTS_SOURCE

    def describe(self) -> str:
        return (
            f"base rate P(verdict right) {self.verify_accuracy:.3f}, rater SD {self.rater_sd:.3f}, item SD "
            f"{self.item_sd:.3f}, model error rate {self.model_errors:.3f} ({self.source})"
        )


@dataclass(frozen=True)
class PowerRow:
    """Power at one number of raters: ``detected`` of ``sims`` studies, and the mean estimate."""

    raters: int
    sims: int
    detected: int
    mean_diff: float
    raters_per_item: int = 0
    judgements: int = 0

    @property
    def power(self) -> float:
        return self.detected / self.sims


def power_target(config: StudyConfig) -> tuple[str, str]:
    """The contrast [a, b] whose power is computed: the first confirmatory one."""
    pairs = confirmatory_pairs(config)
    if not pairs:
        raise ValueError("the study has one condition: there is no contrast whose power to compute")
    return pairs[0]


def error_share(config: StudyConfig, inputs: PowerInputs) -> float:
    """The share of the study's items that are model errors: the config's ``items.model_errors`` when
    it stratifies, else the model's error rate (``inputs``)."""
    return config.items.model_errors if config.items.model_errors is not None else inputs.model_errors


def planned_design(config: StudyConfig, n_raters: int, *, model_errors: float) -> pd.DataFrame:
    """The study's own assignment for ``n_raters`` raters arriving in turn (no database).

    Items 1..items.n, the first round(model_errors x n) of them model errors. Returns one row per
    planned regular assignment: rater (0-based), item (0-based), condition, position, model_right.
    """
    n = config.items.count
    per_item = max(math.ceil(n_raters * config.items_per_rater / n), 1)
    planned = config.model_copy(update={"raters_per_item": per_item})
    n_wrong = int(round(model_errors * n))
    items = [StudyItem(item_id=i + 1, is_gold=False, model_correct=i >= n_wrong) for i in range(n)]
    groups, _ = item_groups(planned, items)
    counts: Counter[tuple[int, str]] = Counter()
    rows = []
    for k in range(n_raters):
        plan = plan_rater(
            config=planned, groups=groups, gold_ids=[], counts=dict(counts), arrival_index=k, rater_id=k + 1
        )
        for position, p in enumerate(plan):
            counts[(p.item_id, p.condition)] += 1
            rows.append((k, p.item_id - 1, p.condition, position, p.item_id > n_wrong))
    return pd.DataFrame(rows, columns=["rater", "item", "condition", "position", "model_right"])


def study_power(
    config: StudyConfig,
    *,
    effect: float,
    raters: Sequence[int],
    sims: int = 500,
    seed: int = 0,
    inputs: PowerInputs | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> list[PowerRow]:
    """Power of the config's first confirmatory contrast for each number of raters in ``raters``.

    Raises ValueError when a number of raters is below 2 or ``sims`` is below 1.
    """
    if sims < 1 or any(r < 2 for r in raters):
        raise ValueError("--sims must be >= 1 and every --raters value >= 2")
    inputs = inputs or PowerInputs()
    target = power_target(config)
    errors = error_share(config, inputs)
    rng = np.random.default_rng(seed)
    out = []
    for step, n_raters in enumerate(raters):
        design = planned_design(config, n_raters, model_errors=errors)
        study = SyntheticStudy(
            n_raters=n_raters,
            n_items=config.items.count,
            conditions=tuple(config.conditions),
            design=config.design,
            verify_accuracy=inputs.verify_accuracy,
            rater_sd=inputs.rater_sd,
            item_sd=inputs.item_sd,
            effect={target[0]: effect},
        )
        detected, diffs = _detections(config, study, design, effect=effect, sims=sims, rng=rng)
        out.append(
            PowerRow(
                n_raters,
                sims,
                detected,
                float(np.mean(diffs)) if diffs else float("nan"),
                raters_per_item=int(design.groupby("item").size().max()),
                judgements=len(design),
            )
        )
        if progress is not None:
            progress(step + 1, len(raters))
    return out


def _detections(
    config: StudyConfig,
    study: SyntheticStudy,
    design: pd.DataFrame,
    *,
    effect: float,
    sims: int,
    rng: np.random.Generator,
) -> tuple[int, list[float]]:
    """Simulate ``sims`` studies on the planned ``design``: how many detect the target contrast (Holm
    p < alpha with the planted sign), and each defined estimate of it."""
    spec = config.analysis
    pairs = confirmatory_pairs(config)
    target = power_target(config)
    conditions = list(config.conditions)
    model_right = np.zeros(config.items.count, bool)
    model_right[design["item"].to_numpy()] = design["model_right"].to_numpy()
    arrays = {
        "rater": design["rater"].to_numpy(),
        "item": design["item"].to_numpy(),
        "cond_index": design["condition"].map(conditions.index).to_numpy(),
        "position": design["position"].to_numpy(),
    }
    detected, diffs = 0, []
    for _ in range(sims):
        df = validate_judgements(answer_judgements(study, rng, model_right=model_right, **arrays))
        rows = contrasts(df, conditions, pairs=pairs, measures=[spec.primary])
        row = next((r for r in rows if (r["a"], r["b"]) == target), None)
        if row is None or row["p_holm"] is None:
            continue
        diffs.append(row["diff"])
        # At effect 0 any rejection counts (the rejection rate is then the test's size).
        right_sign = effect == 0 or np.sign(row["diff"]) == np.sign(effect)
        detected += row["p_holm"] < spec.alpha and right_sign
    return int(detected), diffs


def _additive_fit(y: np.ndarray, codes: list[np.ndarray]) -> tuple[list[np.ndarray], np.ndarray]:
    """Least-squares y ~ sum of one effect per factor (alternating means); the first factor absorbs the
    mean, the others are centred. Returns (effects per factor, residuals)."""
    effects = [np.zeros(c.max() + 1) for c in codes]
    for _ in range(PILOT_ITERATIONS):
        for f, c in enumerate(codes):
            rest = sum(effects[g][codes[g]] for g in range(len(codes)) if g != f)
            effects[f] = np.bincount(c, y - rest) / np.bincount(c)
            if f:
                effects[f] -= effects[f].mean()
    fitted = sum(e[c] for e, c in zip(effects, codes, strict=True))
    return effects, y - fitted


def pilot_inputs(frame: pd.DataFrame, *, reference: str | None = None, source: str = "pilot") -> PowerInputs:
    """Rater SD, item SD, base rate and model error rate estimated from a pilot's verdicts
    (``PILOT_METHOD``).

    frame: validated regular judgements of the analysed raters (``truth.scoreable``), with rater_id,
        item_id, condition, model_correct and verify_correct (NaN where not answered).
    reference: the condition whose share of right verdicts is the base rate.
    """
    rows = frame[frame["verify_correct"].notna()]
    if rows["rater_id"].nunique() < 2 or rows["item_id"].nunique() < 2:
        raise ValueError(
            f"{source} has verify answers from fewer than two raters or on fewer than two items: "
            "it cannot estimate rater and item variation (finish the pilot, or drop --pilot)"
        )
    y = rows["verify_correct"].to_numpy(float)
    codes = [pd.factorize(rows[col])[0] for col in ("condition", "rater_id", "item_id")]
    (_, rater_fx, item_fx), resid = _additive_fit(y, codes)
    n_params = sum(c.max() + 1 for c in codes) - (len(codes) - 1)
    residual_var = float(resid @ resid / max(len(y) - n_params, 1))

    def component(effects: np.ndarray, c: np.ndarray) -> float:
        sampling = float(np.mean(residual_var / np.bincount(c)))
        return math.sqrt(max(float(np.var(effects, ddof=1)) - sampling, 0.0))

    in_reference = rows["condition"] == reference
    base = rows.loc[in_reference, "verify_correct"] if in_reference.any() else rows["verify_correct"]
    items = frame.drop_duplicates("item_id")
    return PowerInputs(
        verify_accuracy=float(base.mean()),
        rater_sd=component(rater_fx, codes[1]),
        item_sd=component(item_fx, codes[2]),
        model_errors=float((~items["model_correct"].astype(bool)).mean()),
        source=f"estimated from {source}: {len(y)} verdicts, {rows['rater_id'].nunique()} raters, "
        f"{rows['item_id'].nunique()} items",
    )


def load_pilot(settings: Settings, name: str, *, reference: str | None = None) -> PowerInputs:
    """``pilot_inputs`` of a study in the database (its analysed judgements, frozen labels). A pilot
    that still runs under outcome blinding is refused: its numbers per condition are not to be looked
    at yet."""
    blinding = study_blinding(settings, name)
    if blinding["blinded"]:
        raise ValueError(f"pilot study {name!r} cannot be used yet: {blinding['reason']}")
    data = load_study_data(settings, name)
    _, _, regular = exclusions(data.judgements, data.config, data.screened_out)
    if regular.empty:
        raise ValueError(f"pilot study {name!r} has no judgements to analyse: run it first, or drop --pilot")
    return pilot_inputs(scoreable(regular, []), reference=reference, source=f"pilot study {name!r}")


def power_plot(rows: Sequence[PowerRow], path, *, title: str) -> None:
    """Power against the number of raters, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.6))
    ax.plot([r.raters for r in rows], [r.power for r in rows], "o-", color="#1f5fbf")
    ax.axhline(0.8, color="#8a93a3", ls="--", lw=1)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("raters")
    ax.set_ylabel("power (Holm p < alpha)")
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
