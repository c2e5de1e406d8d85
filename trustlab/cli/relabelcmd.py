"""`trustlab relabel` and `trustlab labels merge|export|queue|decide|undo`: thin wrappers over
trustlab.studies.relabel (pipeline and curation)."""

from __future__ import annotations

from pathlib import Path

import typer

from trustlab.cli.app import app, console, fail, labels_app
from trustlab.cli.output import JSON_OPTION, WIDE_OPTION, emit
from trustlab.cli.tables import print_table
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
PROPOSAL_COLUMNS = ("rank", "item_id", "current_label", "proposed_label", "score", "method", "votes")
PAIR_COLUMNS = ("classes", "score", "raters", "model", "examples", "suggestion")


@app.command("relabel")
def relabel_cmd(
    model: str = typer.Option(..., "--model", help="Model whose out-of-sample predictions to use."),
    out: Path = typer.Option(..., "--out", help="Folder for proposals.csv, ambiguity.csv, rater_quality.csv"),
    study: str | None = typer.Option(None, "--study", help="Use this study's items and rater answers."),
    dataset: str | None = typer.Option(None, "--dataset", help="Use every item (and every study's answers)."),
    method: str = typer.Option("auto", "--method", help="auto, majority, dawid_skene, crowdlab or cleanlab."),
    min_margin: float = typer.Option(DEFAULT_MIN_MARGIN, "--min-margin",
                                     help="Least P(proposed) - P(current) for a consensus proposal."),
    as_json: bool = JSON_OPTION,
    wide: bool = WIDE_OPTION,
) -> None:
    """Propose label fixes and list ambiguous class pairs (stored for the curator queue)."""
    try:
        result = run_relabel(load_settings(), model=model, out_dir=out, study=study, dataset=dataset,
                             method=method, min_margin=min_margin)
    except (RelabelError, NotFound, ValueError) as exc:
        raise fail(str(exc)) from exc
    c = result.counts

    def text() -> None:
        console.print(f"{c['items']} items, {c['rated_items']} rated ({c['answers']} answers by "
                      f"{c['raters']} raters), {c['with_probs']} with out-of-sample probabilities")
        console.print(f"proposals: {len(result.proposals)} ({c['added']} new, {c['refreshed']} already "
                      f"open, {c['skipped_decided']} skipped as already decided)")
        proposals = [(r.rank, r.item_id, r.current_label, r.proposed_label, f"{r.score:.2f}", r.method,
                      r.votes) for r in result.proposals.head(SHOWN_ROWS).itertuples()]
        print_table("Top proposals", PROPOSAL_COLUMNS, proposals, wide=wide)
        pairs = [(f"{r.class_a} / {r.class_b}", f"{r.score:.2f}", f"{r.rater_rate:.2f}",
                  f"{r.model_rate:.2f}", ",".join(map(str, r.examples)), r.suggestion)
                 for r in result.ambiguity.head(SHOWN_ROWS).itertuples()]
        print_table("Ambiguous class pairs", PAIR_COLUMNS, pairs, wide=wide)
        console.print(f"wrote {', '.join(str(p) for p in result.paths.values())}", markup=False)

    emit({"model": model, "counts": c, "proposals": result.proposals, "ambiguity": result.ambiguity,
          "files": result.paths}, as_json=as_json, text=text)


@labels_app.command("merge")
def merge_cmd(
    sources: list[str] = typer.Argument(..., help="Classes to merge (two or more)."),
    into: str = typer.Option(..., "--into", help="Class that the items get (created when new)."),
    dataset: str = typer.Option(..., "--dataset"),
    actor: str = typer.Option("cli", "--actor", help="Who merges (stored on each revision)."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Merge classes: every item labelled with a source class gets --into, one revision each."""
    try:
        revisions = merge_dataset_labels(load_settings(), dataset=dataset, sources=sources, into=into,
                                         actor=actor)
    except (CurationError, NotFound) as exc:
        raise fail(str(exc)) from exc
    emit({"dataset": dataset, "sources": sources, "into": into, "relabelled": len(revisions)},
         as_json=as_json,
         text=f"merged {', '.join(sources)} into {into!r}: {len(revisions)} items relabelled")


@labels_app.command("export")
def export_cmd(
    dataset: str = typer.Option(..., "--dataset"),
    out: Path = typer.Option(..., "--out", help="CSV file to write."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Export current labels with their revision history summary."""
    try:
        frame = export_dataset_labels(load_settings(), dataset=dataset)
    except NotFound as exc:
        raise fail(str(exc)) from exc
    write_labels_csv(frame, out)
    changed = int((frame["current_label"] != frame["original_label"]).sum())
    emit({"dataset": dataset, "out": out, "items": len(frame), "changed": changed}, as_json=as_json,
         text=f"wrote {len(frame)} items ({changed} with a changed label) to {out}")


@labels_app.command("queue")
def queue_cmd(
    dataset: str = typer.Option(..., "--dataset"),
    limit: int = typer.Option(20, "--limit"),
    as_json: bool = JSON_OPTION,
    wide: bool = WIDE_OPTION,
) -> None:
    """List open proposals, best first."""
    try:
        queue = dataset_review_queue(load_settings(), dataset=dataset, limit=limit)
    except (CurationError, NotFound) as exc:
        raise fail(str(exc)) from exc
    emit(queue, as_json=as_json, text=lambda: print_table(
        f"Open proposals ({len(queue)} shown)",
        ("proposal", "item", "current", "proposed", "score", "method", "votes", "path"),
        [(q["proposal_id"], q["item_id"], q["current_label"], q["proposed_label"], f"{q['score']:.2f}",
          q["method"], ", ".join(f"{k}:{v}" for k, v in q["votes"].items()), q["path"]) for q in queue],
        wide=wide, extra=("path",)))


@labels_app.command("decide")
def decide_cmd(
    proposal_id: int = typer.Argument(..., help="Proposal id (see `trustlab labels queue`)."),
    decision: str = typer.Argument(..., help="accept, reject, or a class name to use instead."),
    actor: str = typer.Option("cli", "--actor", help="Who decides (stored on the revision)."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Accept or reject a proposal, or give the item another class."""
    action, label = (decision, None) if decision in ("accept", "reject") else ("other", decision)
    try:
        revision = decide_by_id(load_settings(), proposal_id=proposal_id, action=action, label=label,
                                actor=actor)
    except (CurationError, NotFound) as exc:
        raise fail(str(exc)) from exc
    if revision is None:
        emit({"proposal": proposal_id, "decision": action, "revision": None}, as_json=as_json,
             text=f"proposal {proposal_id}: {action}ed, label unchanged")
    else:
        emit({"proposal": proposal_id, "decision": action, "revision": _revision(revision)}, as_json=as_json,
             text=f"item {revision.item_id}: {revision.old_label} -> {revision.new_label} "
                  f"(revision {revision.id})")


def _revision(revision) -> dict:
    return {"id": revision.id, "item_id": revision.item_id, "old_label": revision.old_label,
            "new_label": revision.new_label}


@labels_app.command("undo")
def undo_cmd(
    item_id: int = typer.Argument(..., help="Item whose latest decision to undo."),
    actor: str = typer.Option("cli", "--actor"),
    as_json: bool = JSON_OPTION,
) -> None:
    """Undo your latest decision on an item: a label change is reverted by a new revision, a reject is
    reopened as a new open proposal (history is kept either way)."""
    try:
        undone = undo_item(load_settings(), item_id=item_id, actor=actor)
    except (CurationError, NotFound) as exc:
        raise fail(str(exc)) from exc
    revision = undone.revision
    row = {"item_id": item_id, "undid": undone.kind, "proposal_id": undone.proposal_id, "label": undone.label,
           "revision": _revision(revision) if revision is not None else None}
    text = (f"item {item_id}: {revision.old_label} -> {revision.new_label} (revision {revision.id})"
            if revision is not None else
            f"item {item_id}: the reject is undone; proposal {undone.proposal_id} is open again")
    emit(row, as_json=as_json, text=text)
