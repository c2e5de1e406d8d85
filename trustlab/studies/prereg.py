"""A pre-registration (`trustlab study preregister`) in the order of the OSF Preregistration template:
study information (hypotheses), design plan (design, balance table, randomisation and seed), sampling
plan (sample size and its power), variables (primary outcome), analysis plan (the inference method as
``summary.json`` names it, the confirmatory contrasts with Holm's correction, exclusion rules).

``preregistration`` is pure (config + balance table + power rows -> markdown); ``preregister`` reads a
created study from the database (its realised balance table) or plans a YAML's design without one.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from trustlab.config import Settings
from trustlab.db.engine import unit_of_work
from trustlab.db.queries.studies import get_study
from trustlab.db.schema import StudyItem
from trustlab.studies.analysis.confirmatory import confirmatory_pairs
from trustlab.studies.analysis.estimators import ESTIMATORS
from trustlab.studies.analysis.inference import CI_LEVEL, METHOD
from trustlab.studies.analysis.raters import EXCLUSION_RULE
from trustlab.studies.analysis.truth import SENSITIVITY_NOTE
from trustlab.studies.balance import realised_balance, summary_line
from trustlab.studies.config import StudyConfig, load_study_config
from trustlab.studies.design import study_balance
from trustlab.studies.power import (
    PowerInputs,
    PowerRow,
    error_share,
    load_pilot,
    power_target,
    study_power,
)
from trustlab.studies.preregistered import analysis_sha256

DEFAULT_EFFECT = 0.10
DEFAULT_SIMS = 500
# The section headings, in the OSF Preregistration template's order (tests look for each).
SECTIONS = (
    "1. Study information",
    "2. Design plan",
    "3. Sampling plan",
    "4. Variables",
    "5. Analysis plan",
    "6. Other",
)


def sample_size(config: StudyConfig) -> int:
    """Raters that fill the study: ceil(items.n x raters_per_item / items_per_rater)."""
    return math.ceil(config.items.count * config.raters_per_item / config.items_per_rater)


def _hypotheses(config: StudyConfig) -> list[str]:
    measure = config.analysis.primary
    return [
        f"- **H{k}**: {measure} differs between `{a}` and `{b}` ({a} − {b} ≠ 0, two-sided); "
        f"{ESTIMATORS[measure].description}."
        for k, (a, b) in enumerate(confirmatory_pairs(config), start=1)
    ]


def _balance_table(balance: dict[str, Any]) -> list[str]:
    lines = [
        "| condition | assignments | model errors | error share |",
        "|---|---:|---:|---:|",
    ]
    for condition, row in balance["conditions"].items():
        share = "–" if row["error_share"] is None else f"{row['error_share']:.3f}"
        lines.append(f"| {condition} | {row['assignments']} | {row['errors']} | {share} |")
    lines.append("")
    lines.append(
        summary_line(balance) + ". "
        + ("Balanced." if balance["balanced"] else "Not balanced: " + "; ".join(balance["problems"]) + ".")
    )
    return lines


def _power_table(rows: list[PowerRow]) -> list[str]:
    lines = [
        "| raters | ratings per item | judgements | simulated studies | power |",
        "|---:|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {r.raters} | {r.raters_per_item} | {r.judgements} | {r.sims} | {r.power:.2f} |" for r in rows
    ]
    return lines


def preregistration(
    config: StudyConfig,
    *,
    balance: dict[str, Any],
    power: list[PowerRow],
    effect: float,
    inputs: PowerInputs,
    balance_source: str,
) -> str:
    """The pre-registration as markdown.

    balance: ``balance.realised_balance`` of the study; power: ``study_power`` rows, the first at the
    planned sample size; balance_source: one sentence saying where the balance table comes from.
    """
    spec = config.analysis
    pairs = confirmatory_pairs(config)
    a, b = power_target(config)
    n_raters = sample_size(config)
    planned = next((r for r in power if r.raters == n_raters), power[0])
    tasks = ", ".join(config.tasks)
    lines = [
        f"# Pre-registration: study “{config.name}”",
        "",
        f"## {SECTIONS[0]}",
        "",
        f"**Title.** Do explanations help people judge the predictions of model `{config.model}` on dataset "
        f"`{config.dataset}`? Conditions: {', '.join(f'`{c}`' for c in config.conditions)}.",
        "",
        "**Hypotheses** (confirmatory; every other result will be reported as exploratory):",
        "",
        *_hypotheses(config),
        "",
        f"## {SECTIONS[1]}",
        "",
        "**Study type.** Experiment: raters are randomly assigned to conditions (explanation methods shown "
        "with the model's prediction).",
        "",
        f"**Blinding.** Condition names hidden from raters: {str(config.blind_condition).lower()}; the "
        f"prediction shown: {str(config.show_prediction).lower()}. Per-condition outcomes stay hidden from "
        "the researcher until the study is closed or unblinded (logged).",
        "",
        f"**Study design.** {config.design}-subject; {config.items.count} items "
        f"({error_share(config, inputs):.0%} of them model errors, split `{config.items.split}`), "
        f"{config.raters_per_item} raters per item, "
        f"{config.items_per_rater} items per rater, {config.gold.n} gold (attention) items per rater. Tasks: "
        f"{tasks}; Likert scales with {config.likert_points} points.",
        "",
        f"**Balance table.** {balance_source}",
        "",
        *_balance_table(balance),
        "",
        f"**Randomisation.** Seed **{config.seed}**. Each rater's list holds the study's share of model "
        "errors (rounded down or up) and an equal number of items per condition, with errors per condition "
        "differing by at most one; model errors and right items are each taken from a seeded sequence of "
        "(item, condition) pairs, the pair an item has had least often first, so every item gets every "
        "condition equally often; conditions follow row k of a Williams design (balanced for position and "
        "first-order carry-over); the order within a condition and the gold positions are drawn from the "
        "seed and the rater id. Raters are assigned in order of arrival; a dropout's items go to the next "
        "raters first.",
        "",
        f"## {SECTIONS[2]}",
        "",
        "**Existing data.** Registration prior to the collection of the data.",
        "",
        "**Data collection procedures.** Raters answer in the trustlab rater app (invite links); unfinished "
        f"assignments are released to other raters after {config.timeout_minutes} minutes of inactivity.",
        "",
        f"**Sample size.** {n_raters} raters (items.n x raters_per_item / items_per_rater = "
        f"{config.items.count} x {config.raters_per_item} / {config.items_per_rater}), "
        f"{planned.judgements} regular judgements.",
        "",
        f"**Sample size rationale.** Simulation-based power of {spec.primary} `{a}` − `{b}` at an effect of "
        f"{effect:+g}, Holm at α = {spec.alpha}, with the study's own assignment and the analysis's own "
        f"estimator: power **{planned.power:.2f}** at {planned.raters} raters ({planned.sims} simulated "
        f"studies). Inputs: {inputs.describe()}.",
        "",
        *_power_table(power),
        "",
        "**Stopping rule.** Data collection stops when the study is full (every item has raters_per_item "
        "ratings) or is closed; no interim look at per-condition outcomes (blinded monitoring).",
        "",
        f"## {SECTIONS[3]}",
        "",
        f"**Manipulated variable.** Condition: {', '.join(f'`{c}`' for c in config.conditions)}.",
        "",
        f"**Measured variables.** The answers to the tasks {tasks}, and the time per item.",
        "",
        f"**Primary outcome.** `{spec.primary}`: {ESTIMATORS[spec.primary].description}. Scored against "
        "the item labels frozen at `study create`.",
        "",
        f"## {SECTIONS[4]}",
        "",
        f"**Statistical model.** {METHOD}.",
        "",
        f"**Primary outcome and contrasts.** {spec.primary} on "
        + ", ".join(f"`{x}` − `{y}`" for x, y in pairs)
        + f": {len(pairs)} confirmatory contrast(s), one family under Holm's correction at family-wise "
        f"α = {spec.alpha}; {CI_LEVEL:.0%} intervals, and Holm-consistent intervals (at each contrast's "
        "Holm step level) in the report.",
        "",
        f"**Inference criteria.** A hypothesis is supported when its Holm-adjusted p < {spec.alpha} "
        "(two-sided).",
        "",
        f"**Fingerprint.** The study config's `analysis:` block has SHA-256 `{analysis_sha256(config)}`. "
        "trustlab records it at the study's first `study open`; the report calls the primary analysis "
        "pre-registered only when the researcher wrote that block, it was recorded before the first "
        "judgement, and it is unchanged at analysis.",
        "",
        "**Data exclusion.** "
        + (
            f"{EXCLUSION_RULE} (gold.n = {config.gold.n}, max_failures = {config.gold.max_failures}); "
            "gold items are never analysed."
            if config.gold.n
            else "No gold items: no rater is excluded."
        )
        + ' "Can\'t tell" answers are left out of the accuracy, trust and agreement measures and reported '
        "as the can't-tell rate per condition.",
        "",
        "**Missing data.** Each rater's latest answer per item is analysed; unanswered assignments are "
        "missing and counted in the participant flow (invited, started, completed, timed out, excluded).",
        "",
        f"**Sensitivity analysis.** {SENSITIVITY_NOTE[0].upper() + SENSITIVITY_NOTE[1:]} "
        "(`trustlab analyze STUDY --labels current`).",
        "",
        "**Exploratory analyses.** Every other measure and contrast (Holm within each measure's family), "
        "agreement, the learning check, the mixed model and faithfulness vs human ratings.",
        "",
        f"## {SECTIONS[5]}",
        "",
        "Generated by `trustlab study preregister` from the study config; `trustlab analyze` names the same "
        "inference method in summary.json (`inference.method`).",
        "",
    ]
    return "\n".join(lines)


def planned_items(config: StudyConfig, inputs: PowerInputs) -> list[StudyItem]:
    """Stand-in study items for a YAML that is not created yet: items.n items, the config's share of
    them model errors (``error_share``)."""
    n = config.items.count
    n_wrong = int(round(error_share(config, inputs) * n))
    return [StudyItem(item_id=i + 1, is_gold=False, model_correct=i >= n_wrong) for i in range(n)]


def preregister(
    settings: Settings,
    study: str | Path,
    *,
    effect: float = DEFAULT_EFFECT,
    sims: int = DEFAULT_SIMS,
    seed: int = 0,
    raters: list[int] | None = None,
    pilot: str | None = None,
) -> str:
    """The pre-registration of a created study (by name: its realised balance table) or of a study
    YAML (path: the design planned on stand-in items). ``raters``: extra rows of the power table besides
    the planned sample size; ``pilot``: a finished study whose judgements give the power's inputs
    (``power.load_pilot``), else the stated defaults."""
    path = Path(study)
    is_yaml = path.suffix in (".yaml", ".yml") or path.is_file()
    if is_yaml:
        config = load_study_config(path)
    else:
        with unit_of_work(settings) as session:
            config = load_study_config(get_study(session, name=str(study)).config)
    inputs = load_pilot(settings, pilot, reference=power_target(config)[1]) if pilot else PowerInputs()
    if is_yaml:
        balance = realised_balance(config, planned_items(config, inputs))
        source = (
            f"Planned from {path.name} on {config.items.count} stand-in items with the config's share of "
            "model errors; `study create` prints the realised table."
        )
    else:
        balance = study_balance(settings, str(study))
        source = f"Realised by `study create` for study {config.name!r} (its selected items)."
    n_raters = sample_size(config)
    counts = sorted({n_raters, *(r for r in raters or [] if r >= 2)})
    rows = study_power(config, effect=effect, raters=counts, sims=sims, seed=seed, inputs=inputs)
    return preregistration(
        config, balance=balance, power=rows, effect=effect, inputs=inputs, balance_source=source
    )
