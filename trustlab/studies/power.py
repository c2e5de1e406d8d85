"""Simulation-based power of a study's confirmatory analysis (`trustlab study power`).

Each simulated study has the config's conditions, design, items and share of model errors, and the
analysis's own estimator and Holm family (``analysis.primary`` over ``analysis.contrasts``). The first
confirmatory contrast [a, b] gets the planted effect (added to P(verdict right) in condition a); power is
the share of studies in which that contrast has Holm p < alpha with the planted sign. Rater and item
variation are stated defaults (issue 12's simulation) unless given. The primary measure must be
verification_accuracy or another verdict measure for the effect to act on it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from trustlab.studies.analysis.confirmatory import confirmatory_pairs
from trustlab.studies.analysis.inference import contrasts
from trustlab.studies.analysis.measures import validate_judgements
from trustlab.studies.analysis.synthetic import SyntheticStudy, simulate_judgements
from trustlab.studies.config import StudyConfig

# Stated defaults (issue 12's simulation): P(verdict right) = 0.7 + N(0, 0.05) rater + N(0, 0.15) item.
DEFAULT_VERIFY_ACCURACY, DEFAULT_RATER_SD, DEFAULT_ITEM_SD = 0.7, 0.05, 0.15
DEFAULT_MODEL_ERRORS = 0.3


@dataclass(frozen=True)
class PowerRow:
    """Power at one number of raters: ``detected`` of ``sims`` studies, and the mean estimate."""

    raters: int
    sims: int
    detected: int
    mean_diff: float

    @property
    def power(self) -> float:
        return self.detected / self.sims


def power_target(config: StudyConfig) -> tuple[str, str]:
    """The contrast [a, b] whose power is computed: the first confirmatory one."""
    pairs = confirmatory_pairs(config)
    if not pairs:
        raise ValueError("the study has one condition: there is no contrast whose power to compute")
    return pairs[0]


def study_power(
    config: StudyConfig,
    *,
    effect: float,
    raters: Sequence[int],
    sims: int = 500,
    seed: int = 0,
    verify_accuracy: float = DEFAULT_VERIFY_ACCURACY,
    rater_sd: float = DEFAULT_RATER_SD,
    item_sd: float = DEFAULT_ITEM_SD,
    progress: Callable[[int, int], None] | None = None,
) -> list[PowerRow]:
    """Power of the config's first confirmatory contrast for each number of raters in ``raters``.

    Raises ValueError when a number of raters is below 2 or ``sims`` is below 1.
    """
    if sims < 1 or any(r < 2 for r in raters):
        raise ValueError("--sims must be >= 1 and every --raters value >= 2")
    spec = config.analysis
    pairs = confirmatory_pairs(config)
    target = power_target(config)
    errors = config.items.model_errors if config.items.model_errors is not None else DEFAULT_MODEL_ERRORS
    rng = np.random.default_rng(seed)
    out = []
    for step, n_raters in enumerate(raters):
        study = SyntheticStudy(
            n_raters=n_raters,
            n_items=config.items.count,
            conditions=tuple(config.conditions),
            design=config.design,
            model_accuracy=1 - errors,
            verify_accuracy=verify_accuracy,
            rater_sd=rater_sd,
            item_sd=item_sd,
            items_per_rater=config.items_per_rater,
            effect={target[0]: effect},
        )
        detected, diffs = 0, []
        for _ in range(sims):
            df = validate_judgements(simulate_judgements(study, rng))
            rows = contrasts(df, list(config.conditions), pairs=pairs, measures=[spec.primary])
            row = next((r for r in rows if (r["a"], r["b"]) == target), None)
            if row is None or row["p_holm"] is None:
                continue
            diffs.append(row["diff"])
            detected += row["p_holm"] < spec.alpha and np.sign(row["diff"]) == np.sign(effect)
        out.append(PowerRow(n_raters, sims, int(detected), float(np.mean(diffs)) if diffs else float("nan")))
        if progress is not None:
            progress(step + 1, len(raters))
    return out


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
