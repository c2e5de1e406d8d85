"""`trustlab study create|balance|open|close|unblind|status|export`, `trustlab simulate-raters`,
`trustlab analyze`.

Thin wrappers over trustlab.studies (``study invite`` lives in servecmd.py with the platform)."""

from __future__ import annotations

from pathlib import Path

import typer

from trustlab.cli.app import app, console, fail, study_app
from trustlab.cli.output import JSON_OPTION, WIDE_OPTION, emit, info
from trustlab.cli.tables import print_table
from trustlab.config import load_settings
from trustlab.db.queries.errors import NotFound
from trustlab.studies.config.study import StudyConfigError
from trustlab.studies.design.create import StudyError
from trustlab.wording import counted

DEFAULT_URL = None


def _errors():
    return (StudyConfigError, StudyError, NotFound)


@study_app.command("create")
def create(
    config: Path = typer.Argument(..., help="Study YAML (see docs/studies.md)."),
    allow_unbalanced: bool = typer.Option(
        False,
        "--allow-unbalanced",
        help="Create the study even when its design cannot balance (its problems are printed as warnings).",
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    """Validate a study YAML, select its items and gold items, print the design's balance, store it
    as a draft (refused when the design cannot balance, e.g. recruitment.max_participants too few to
    fill it, unless --allow-unbalanced)."""
    from trustlab.studies.design.create import UnbalancedDesign, create_study, study_balance

    settings = load_settings()
    try:
        study = create_study(settings, config, allow_unbalanced=allow_unbalanced)
    except UnbalancedDesign as exc:
        _print_balance(exc.balance, warn=False)
        raise fail(str(exc)) from None
    except _errors() as exc:
        raise fail(str(exc)) from None
    balance = study_balance(settings, study.name)

    def text() -> None:
        _print_balance(balance)
        console.print(f"created study [bold]{study.name}[/] (draft)")
        info(f"open it with `trustlab study open {study.name}`")

    emit({"study": study.name, "status": "draft", "balance": balance}, as_json=as_json, text=text)


@study_app.command("balance")
def balance_(name: str = typer.Argument(..., help="Study name."), as_json: bool = JSON_OPTION) -> None:
    """The realised balance of a created study's design: conditions, model errors per condition and
    per rater, how many raters fill it, and its problems."""
    from trustlab.studies.design.create import study_balance

    try:
        balance = study_balance(load_settings(), name)
    except _errors() as exc:
        raise fail(str(exc)) from None
    emit({"study": name, "balance": balance}, as_json=as_json, text=lambda: _print_balance(balance))


def _print_balance(balance: dict, *, warn: bool = True) -> None:
    """The balance table and summary; ``warn``: its problems (a study created anyway) and notes."""
    from rich.markup import escape

    from trustlab.studies.design.balance import summary_line

    print_table("realised balance", ("condition", "assignments", "model errors", "error share"),
                [(condition, row["assignments"], row["errors"], row["error_share"])
                 for condition, row in balance["conditions"].items()])
    console.print(summary_line(balance), markup=False)
    for problem in balance["problems"] if warn else []:
        info(f"[bold yellow]warning:[/] {escape(problem)}", markup=True)
    for note in balance["notes"]:
        info(f"[yellow]note:[/] {escape(note)}", markup=True)


@study_app.command("open")
def open_(
    name: str = typer.Argument(..., help="Study name."),
    actor: str | None = typer.Option(None, "--actor", help="Who opens it (default: the OS user)."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Open a study: raters get assignments. The first opening records the analysis: block (its
    SHA-256, who, when): the primary analysis counts as pre-registered only when the researcher wrote
    that block and it was recorded before the first judgement."""
    from trustlab.studies.design.create import open_study, study_preregistration_of

    settings = load_settings()
    try:
        open_study(settings, name, actor=actor)
        prereg = study_preregistration_of(settings, name)
    except _errors() as exc:
        raise fail(str(exc)) from None
    emit({"study": name, "status": "open", "preregistration": prereg}, as_json=as_json,
         text=f"study [bold]{name}[/] is open; primary analysis {prereg['statement']}")


@study_app.command("close")
def close(
    name: str = typer.Argument(..., help="Study name."),
    actor: str | None = typer.Option(None, "--actor", help="Who closes it (default: the OS user)."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Close a study: no more assignments are given out, and its outcome numbers per condition are
    unblinded (recorded with who and when, unless unblinded before)."""
    from trustlab.studies.design.create import close_study

    try:
        close_study(load_settings(), name, actor=actor)
    except _errors() as exc:
        raise fail(str(exc)) from None
    emit({"study": name, "status": "closed"}, as_json=as_json,
         text=f"study [bold]{name}[/] is closed; its outcome numbers per condition are unblinded")


@study_app.command("unblind")
def unblind(
    name: str = typer.Argument(..., help="Study name."),
    reason: str = typer.Option("", "--reason", help="Why the outcomes are looked at before the end."),
    actor: str | None = typer.Option(None, "--actor", help="Who unblinds (default: the OS user)."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Show a running study's outcome numbers per condition (researcher tab, progress API): records
    who, when and why. Unblinding again appends a record; the first one stays the unblinding."""
    from trustlab.studies.monitoring.outcome_blinding import unblind_study

    try:
        state = unblind_study(load_settings(), name, actor=actor, reason=reason)
    except _errors() as exc:
        raise fail(str(exc)) from None
    first = state["unblinded"]
    looks = f"; {len(state['looks'])} records of looks at outcomes" if len(state["looks"]) > 1 else ""
    emit({"study": name, **state}, as_json=as_json, text=lambda: console.print(
        f"study {name} unblinded by {first['actor']} at {first['at']} ({first['source']}){looks}",
        markup=False))


def _blinding_line(blinding: dict) -> str:
    if blinding["blinded"]:
        return f"blinded: {blinding['reason']}"
    first = blinding["unblinded"]
    if first is None:
        return "unblinded: the study is closed"
    why = f" ({first['reason']})" if first["reason"] else ""
    return (
        f"unblinded by {first['actor']} at {first['at']} through `{first['source']}`{why}; "
        f"{len(blinding['looks'])} record(s) of looks at outcomes"
    )


@study_app.command("status")
def status(
    name: str = typer.Argument(..., help="Study name."),
    as_json: bool = JSON_OPTION,
    wide: bool = WIDE_OPTION,
) -> None:
    """Progress per rater and per condition, and whether outcomes are blinded (who unblinded, when)."""
    from trustlab.studies.monitoring.export import study_status
    from trustlab.studies.monitoring.outcome_blinding import study_blinding

    try:
        settings = load_settings()
        info = study_status(settings, name)
        info["blinding"] = study_blinding(settings, name)
    except _errors() as exc:
        raise fail(str(exc)) from None
    emit(info, as_json=as_json, text=lambda: _print_status(info, wide))


def _print_status(info: dict, wide: bool) -> None:
    done = sum(c["done"] for c in info["per_condition"].values())
    console.print(
        f"[bold]{info['study']}[/] ({info['status']}, {info['design']}): {info['items']} items + "
        f"{info['gold_items']} gold, {info['raters']} raters, {done}/{info['target_judgements']} "
        "judgements"
    )
    console.print(_blinding_line(info["blinding"]), markup=False)
    print_table("per condition", ("condition", "done", "assigned", "released"),
                [(condition, c["done"], c["assigned"], c["released"])
                 for condition, c in info["per_condition"].items()], wide=wide)
    print_table("per rater (done)", ("rater", "done", "open", "released", *info["conditions"]),
                [(row["rater"], row["done"], row["assigned"], row["released"],
                  *[row["by_condition"].get(c, 0) for c in info["conditions"]]) for row in info["per_rater"]],
                wide=wide)


# The options and the guard of a verb that looks at a running study's outcomes (analyze, export).
UNBLIND_OPTION = typer.Option(
    False,
    "--unblind",
    help="Look at a study that is not closed and still blinded: an interim look, recorded (who, when, "
    "why). Without it the verb is refused.",
)
REASON_OPTION = typer.Option("", "--reason", help="Why a running study is looked at (recorded).")
ACTOR_OPTION = typer.Option(None, "--actor", help="Who looks (default: the OS user).")


def _look(name: str, *, unblind: bool, actor: str | None, reason: str, source: str) -> None:
    """Refuse a blinded running study without --unblind; record the look and warn when it runs."""
    from trustlab.studies.monitoring.outcome_blinding import StillBlinded, analysis_look

    try:
        look = analysis_look(
            load_settings(), name, unblind=unblind, actor=actor, reason=reason, source=source
        )
    except (*_errors(), StillBlinded) as exc:
        raise fail(str(exc)) from None
    if look is not None:
        doing = "analysis" if source == "analyze" else "export"
        info(
            f"[bold yellow]warning:[/] study {name} is not closed: this {doing} is an unblinded interim "
            f"look at its outcomes (look {look['interim_look']} of this running study, recorded with who "
            "and when). Do not stop or extend the study because of what it shows.",
            markup=True,
        )


@study_app.command("export")
def export(
    name: str = typer.Argument(..., help="Study name."),
    out: Path = typer.Option(..., "--out", help="Folder for the CSV and JSONL files."),
    unblind: bool = UNBLIND_OPTION,
    reason: str = REASON_OPTION,
    actor: str | None = ACTOR_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Write the study's judgements (latest per assignment) as CSV and JSONL. A running study is
    blinded: exporting it needs --unblind (or `study unblind` first) and is recorded as a look."""
    from trustlab.studies.monitoring.export import export_study

    _look(name, unblind=unblind, actor=actor, reason=reason, source="export")
    try:
        paths = export_study(load_settings(), name, out)
    except _errors() as exc:
        raise fail(str(exc)) from None
    emit({"study": name, **paths}, as_json=as_json, text=f"wrote {paths['csv']} and {paths['jsonl']}")


@app.command("simulate-raters")
def simulate_raters_cmd(
    study: str = typer.Argument(..., help="Study name (must be open)."),
    n: int = typer.Option(30, "--n", help="How many synthetic raters."),
    profile: Path | None = typer.Option(None, help="Rater profile YAML (default: built-in profile)."),
    seed: int = typer.Option(0, help="Seed of the raters' answers."),
    url: str | None = typer.Option(DEFAULT_URL, help="A running server (default: an in-process app)."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Synthetic raters that go through the REST API: accept invite, answer every item, finish."""
    from trustlab.platform.client.simulated import run_simulated_raters
    from trustlab.platform.errors import PlatformError
    from trustlab.studies.simulate import SimulationError

    try:
        result = run_simulated_raters(load_settings(), study=study, n=n, profile=profile, seed=seed, url=url)
    except (*_errors(), SimulationError, PlatformError) as exc:
        raise fail(str(exc)) from None
    emit({"study": study, "raters": result.raters, "careless": result.careless,
          "judgements": result.judgements, "finished": len(result.completion_codes)}, as_json=as_json,
         text=f"{result.raters} simulated raters ({result.careless} careless) gave {result.judgements} "
              f"judgements; {len(result.completion_codes)} finished")


@app.command("analyze")
def analyze(
    study: str = typer.Argument(..., help="Study name."),
    out: Path = typer.Option(..., "--out", help="Folder for report.html, summary.json and CSV tables."),
    replicates: int = typer.Option(1000, help="Item resamples for the agreement intervals."),
    labels: str = typer.Option(
        "frozen",
        "--labels",
        help="frozen: score against the labels frozen at `study create` (the primary analysis); current: "
        "also re-score against the items' curated labels now, as a sensitivity analysis shown side by side.",
    ),
    unblind: bool = UNBLIND_OPTION,
    reason: str = REASON_OPTION,
    actor: str | None = ACTOR_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Analyse a study: report.html, summary.json and CSV tables. A study that is not closed is
    blinded: analysing it needs --unblind (or `study unblind` first), and every analysis of it is
    recorded as an interim look."""
    from trustlab.studies.analysis import analyze_study
    from trustlab.studies.analysis.truth import check_labels

    try:
        check_labels(labels)
    except ValueError as exc:
        raise fail(str(exc)) from None
    _look(study, unblind=unblind, actor=actor, reason=reason, source="analyze")
    try:
        summary = analyze_study(load_settings(), study, out, replicates=replicates, labels=labels)
    except _errors() as exc:
        raise fail(str(exc)) from None
    for note in summary.get("notes", []):
        info(f"[yellow]note:[/] {note}", markup=True)
    sensitivity = summary.get("sensitivity", {}).get("current_labels")
    changed = sensitivity["labels_changed"]["items_changed"] if sensitivity else None
    result = {"study": study, "out": out, "report": out / "report.html", "summary": out / "summary.json",
              "n_judgements": summary["study"]["n_judgements"],
              "excluded_raters": summary.get("excluded_raters", []), "notes": summary.get("notes", []),
              "labels": labels, "items_relabelled_since_create": changed}

    def text() -> None:
        console.print(f"wrote {out / 'report.html'} ({counted(result['n_judgements'], 'judgement')}, "
                      f"{counted(len(result['excluded_raters']), 'rater')} excluded)", markup=False)
        if sensitivity:
            console.print(f"sensitivity (current labels): {changed} rated items relabelled since "
                          'study create; see the report\'s "frozen vs current labels" section', markup=False)

    emit(result, as_json=as_json, text=text)
