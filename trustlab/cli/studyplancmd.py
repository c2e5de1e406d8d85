"""`trustlab study power|preregister`: planning a study before it runs (thin wrappers over
trustlab.studies.design.power and trustlab.studies.design.prereg)."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import typer

from trustlab.cli.app import console, fail, study_app
from trustlab.cli.output import JSON_OPTION, emit, info
from trustlab.cli.studycmd import _errors
from trustlab.cli.tables import print_table
from trustlab.config import load_settings


@study_app.command("power")
def power(
    config: Path = typer.Argument(..., help="Study YAML."),
    effect: float = typer.Option(
        0.10, "--effect", help="Planted difference in the primary measure's contrast."
    ),
    raters: str = typer.Option("10,20,40,80", "--raters", help="Numbers of raters, comma-separated."),
    sims: int = typer.Option(500, "--sims", help="Simulated studies per number of raters."),
    seed: int = typer.Option(0, "--seed"),
    pilot: str | None = typer.Option(
        None,
        "--pilot",
        help="A finished study whose judgements give the rater SD, item SD, base rate "
        "and model error rate (default: stated defaults).",
    ),
    out: Path = typer.Option(Path("power.png"), "--out", help="Where to write the power curve."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Simulation-based power of the study's confirmatory contrast: the study's own assignment and the
    analysis's own estimator."""
    from trustlab.studies.config.study import load_study_config
    from trustlab.studies.design.power import load_pilot, power_plot, power_target, study_power

    try:
        study = load_study_config(config)
        counts = [int(v) for v in raters.split(",") if v.strip()]
        a, b = power_target(study)
        inputs = load_pilot(load_settings(), pilot, reference=b) if pilot else None
        rows = study_power(study, effect=effect, raters=counts, sims=sims, seed=seed, inputs=inputs)
    except (*_errors(), ValueError) as exc:
        raise fail(str(exc)) from None
    power_plot(rows, out, title=f"{study.name}: {study.analysis.primary} {a} - {b}, effect {effect:+g}")
    table = [{**asdict(row), "power": row.power} for row in rows]
    emit({"study": study.name, "effect": effect, "rows": table, "plot": out}, as_json=as_json,
         text=lambda: _print_power(study, rows, effect, inputs))
    info(f"wrote {out}")


def _print_power(study, rows, effect: float, inputs) -> None:
    from trustlab.studies.design.power import PILOT_METHOD, PowerInputs, power_target

    a, b = power_target(study)
    print_table(
        f"power of {study.analysis.primary} {a} - {b} at {effect:+g} (Holm, alpha {study.analysis.alpha})",
        ("raters", "ratings per item", "judgements", "sims", "power", "mean estimate"),
        [(row.raters, row.raters_per_item, row.judgements, row.sims, f"{row.power:.2f}",
          f"{row.mean_diff:+.3f}") for row in rows],
    )
    console.print(f"inputs: {(inputs or PowerInputs()).describe()}", markup=False)
    if inputs is not None:
        console.print(f"method: {PILOT_METHOD}", markup=False)
    console.print(
        "design: the study's own assignment (each list at the study's model-error share, conditions "
        "balanced, Williams orders) with raters_per_item = what the raters fill; estimator: the "
        "analysis's two-way cluster-robust contrast",
        markup=False,
    )


@study_app.command("preregister")
def preregister(
    study: str = typer.Argument(..., help="Study name (created: its realised balance table) or study YAML."),
    out: Path = typer.Option(Path("prereg.md"), "--out", help="Where to write the markdown."),
    effect: float = typer.Option(0.10, "--effect", help="Effect whose power is stated with the sample size."),
    sims: int = typer.Option(500, "--sims", help="Simulated studies for the power."),
    raters: str = typer.Option(
        "", "--raters", help="More numbers of raters for the power table, e.g. 10,20."
    ),
    seed: int = typer.Option(0, "--seed"),
    pilot: str | None = typer.Option(None, "--pilot", help="A finished study giving the power's inputs."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Write a pre-registration (OSF template order): hypotheses, primary outcome and contrasts, design
    and balance table, sample size with its power, exclusion rules, analysis plan, seed."""
    from trustlab.studies.design.prereg import preregister as make_prereg

    try:
        counts = [int(v) for v in raters.split(",") if v.strip()]
        text = make_prereg(
            load_settings(), study, effect=effect, sims=sims, seed=seed, raters=counts, pilot=pilot
        )
    except (*_errors(), ValueError) as exc:
        raise fail(str(exc)) from None
    out.write_text(text, encoding="utf-8")
    emit({"study": study, "out": out}, as_json=as_json, text=f"wrote {out}")
