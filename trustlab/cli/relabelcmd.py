"""`trustlab relabel` and `trustlab labels merge|export|queue|decide|undo`: thin wrappers over
trustlab.studies.relabel (pipeline and curation)."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from trustlab.cli.app import app, console, fail, labels_app
from trustlab.config import load_settings
from trustlab.db.queries.errors import NotFound
from trustlab.studies.relabel.curation import (
    CurationError,
    dataset_review_queue,
    decide_by_id,
    export_dataset_labels,
    merge_dataset_labels,
    undo_item,
    write_labels_csv,
)
from trustlab.studies.relabel.pipeline import RelabelError, run_relabel
from trustlab.studies.relabel.proposals import DEFAULT_MIN_MARGIN

SHOWN_ROWS = 15


@app.command("relabel")
def relabel_cmd(
    model: str = typer.Option(..., "--model", help="Model whose out-of-sample predictions to use."),
    out: Path = typer.Option(..., "--out", help="Folder for proposals.csv, ambiguity.csv, rater_quality.csv"),
    study: str | None = typer.Option(None, "--study", help="Use this study's items and rater answers."),
    dataset: str | None = typer.Option(None, "--dataset", help="Use every item (and every study's answers)."),
    method: str = typer.Option("auto", "--method", help="auto, majority, dawid_skene, crowdlab or cleanlab."),
    min_margin: float = typer.Option(DEFAULT_MIN_MARGIN, "--min-margin",
                                     help="Least P(proposed) - P(current) for a consensus proposal."),
) -> None:
    """Propose label fixes and list ambiguous class pairs (stored for the curator queue)."""
    try:
        result = run_relabel(load_settings(), model=model, out_dir=out, study=study, dataset=dataset,
                             method=method, min_margin=min_margin)
    except (RelabelError, NotFound, ValueError) as exc:
        raise fail(str(exc)) from exc
    c = result.counts
    console.print(f"{c['items']} items, {c['rated_items']} rated ({c['answers']} answers by "
                  f"{c['raters']} raters), {c['with_probs']} with out-of-sample probabilities")
    console.print(f"proposals: {len(result.proposals)} ({c['added']} new, {c['refreshed']} already open, "
                  f"{c['skipped_decided']} skipped as already decided)")
    table = Table(title="Top proposals")
    for column in ("rank", "item_id", "current_label", "proposed_label", "score", "method", "votes"):
        table.add_column(column)
    for row in result.proposals.head(SHOWN_ROWS).itertuples():
        table.add_row(str(row.rank), str(row.item_id), row.current_label, row.proposed_label,
                      f"{row.score:.2f}", row.method, row.votes)
    console.print(table)
    amb = Table(title="Ambiguous class pairs")
    for column in ("classes", "score", "raters", "model", "examples", "suggestion"):
        amb.add_column(column)
    for row in result.ambiguity.head(SHOWN_ROWS).itertuples():
        amb.add_row(f"{row.class_a} / {row.class_b}", f"{row.score:.2f}", f"{row.rater_rate:.2f}",
                    f"{row.model_rate:.2f}", ",".join(map(str, row.examples)), row.suggestion)
    console.print(amb)
    console.print(f"wrote {', '.join(str(p) for p in result.paths.values())}")


@labels_app.command("merge")
def merge_cmd(
    sources: list[str] = typer.Argument(..., help="Classes to merge (two or more)."),
    into: str = typer.Option(..., "--into", help="Class that the items get (created when new)."),
    dataset: str = typer.Option(..., "--dataset"),
    actor: str = typer.Option("cli", "--actor", help="Who merges (stored on each revision)."),
) -> None:
    """Merge classes: every item labelled with a source class gets --into, one revision each."""
    try:
        revisions = merge_dataset_labels(load_settings(), dataset=dataset, sources=sources, into=into,
                                         actor=actor)
    except (CurationError, NotFound) as exc:
        raise fail(str(exc)) from exc
    console.print(f"merged {', '.join(sources)} into {into!r}: {len(revisions)} items relabelled")


@labels_app.command("export")
def export_cmd(
    dataset: str = typer.Option(..., "--dataset"),
    out: Path = typer.Option(..., "--out", help="CSV file to write."),
) -> None:
    """Export current labels with their revision history summary."""
    try:
        frame = export_dataset_labels(load_settings(), dataset=dataset)
    except NotFound as exc:
        raise fail(str(exc)) from exc
    write_labels_csv(frame, out)
    changed = int((frame["current_label"] != frame["original_label"]).sum())
    console.print(f"wrote {len(frame)} items ({changed} with a changed label) to {out}")


@labels_app.command("queue")
def queue_cmd(
    dataset: str = typer.Option(..., "--dataset"),
    limit: int = typer.Option(20, "--limit"),
) -> None:
    """List open proposals, best first."""
    try:
        queue = dataset_review_queue(load_settings(), dataset=dataset, limit=limit)
    except (CurationError, NotFound) as exc:
        raise fail(str(exc)) from exc
    table = Table(title=f"Open proposals ({len(queue)} shown)")
    for column in ("proposal", "item", "current", "proposed", "score", "method", "votes", "path"):
        table.add_column(column)
    for q in queue:
        votes = ", ".join(f"{k}:{v}" for k, v in q["votes"].items())
        table.add_row(str(q["proposal_id"]), str(q["item_id"]), q["current_label"], q["proposed_label"],
                      f"{q['score']:.2f}", q["method"], votes, q["path"])
    console.print(table)


@labels_app.command("decide")
def decide_cmd(
    proposal_id: int = typer.Argument(..., help="Proposal id (see `trustlab labels queue`)."),
    decision: str = typer.Argument(..., help="accept, reject, or a class name to use instead."),
    actor: str = typer.Option("cli", "--actor", help="Who decides (stored on the revision)."),
) -> None:
    """Accept or reject a proposal, or give the item another class."""
    action, label = (decision, None) if decision in ("accept", "reject") else ("other", decision)
    try:
        revision = decide_by_id(load_settings(), proposal_id=proposal_id, action=action, label=label,
                                actor=actor)
    except (CurationError, NotFound) as exc:
        raise fail(str(exc)) from exc
    if revision is None:
        console.print(f"proposal {proposal_id}: {action}ed, label unchanged")
    else:
        console.print(f"item {revision.item_id}: {revision.old_label} -> {revision.new_label} "
                      f"(revision {revision.id})")


@labels_app.command("undo")
def undo_cmd(
    item_id: int = typer.Argument(..., help="Item whose latest label change to revert."),
    actor: str = typer.Option("cli", "--actor"),
) -> None:
    """Revert an item's latest label change (a new revision; history is kept)."""
    try:
        revision = undo_item(load_settings(), item_id=item_id, actor=actor)
    except (CurationError, NotFound) as exc:
        raise fail(str(exc)) from exc
    console.print(f"item {item_id}: {revision.old_label} -> {revision.new_label} (revision {revision.id})")
