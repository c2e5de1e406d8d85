"""Curator review: decide on proposals, undo, merge classes, export labels, the review queue.

Every label change is a ``LabelRevision`` written together with ``Item.current_label`` by
trustlab/db/queries/labels.py; ``Item.original_label`` never changes. The curator tab of the app and the
``trustlab labels ...`` verbs call these functions.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from trustlab.config import Settings
from trustlab.csv_safety import write_csv
from trustlab.db.engine import DbSession, read_session, unit_of_work
from trustlab.db.queries.datasets import get_dataset
from trustlab.db.queries.explanations import item_explanations
from trustlab.db.queries.items import get_item
from trustlab.db.queries.labels import (
    SOURCE_UNDO,
    class_names,
    item_revisions,
    label_export_rows,
    merge_item_labels,
)
from trustlab.db.queries.proposals import (
    ACCEPTED,
    OPEN,
    OTHER,
    REJECTED,
    decide_proposal,
    lock_item_labels,
    lock_proposal,
    open_proposals,
    undo_revision,
)
from trustlab.db.schema import LabelRevision

ACTIONS = ("accept", "reject", "other")
EXPORT_COLUMNS = [
    "item_id",
    "path",
    "split",
    "original_label",
    "current_label",
    "n_revisions",
    "last_change_by",
    "last_change_at",
]
DEFAULT_QUEUE_LIMIT = 50


class CurationError(ValueError):
    """A curation request that cannot be carried out; the message names the input and the fix."""


class CurationConflict(CurationError):
    """Someone else's decision is in the way: the proposal was decided already, or the change to undo
    is not the caller's. The message names who made it."""


def decide(
    session: DbSession, *, proposal_id: int, action: str, label: str | None = None, actor: str
) -> LabelRevision | None:
    """Accept, reject or override one open proposal.

    Parameters
    ----------
    proposal_id : the RelabelProposal to decide (must be open).
    action : "accept" (item gets the proposed label), "reject" (label unchanged, proposal closed),
        or "other" (item gets ``label``, a class of the dataset other than the proposed one).
    label : required for "other", ignored otherwise.
    actor : who decides (a curator's handle); stored on the revision and the proposal.

    Returns
    -------
    The new LabelRevision, or None for "reject" (and for "accept" when the item already carries
    the proposed label, e.g. after a merge).
    """
    if action not in ACTIONS:
        raise CurationError(f"action {action!r} is not one of {', '.join(ACTIONS)}")
    if not actor:
        raise CurationError("actor is empty: pass the curator's handle")
    # Locked: of two curators deciding at once, the second waits and then finds it decided.
    proposal = lock_proposal(session, proposal_id=proposal_id)
    if proposal.status != OPEN:
        raise CurationConflict(
            f"proposal {proposal_id} is already {proposal.status}"
            + (f" by {proposal.decided_by}" if proposal.decided_by else "")
            + "; its decider can revert it with `trustlab labels undo ITEM`"
        )
    evidence = {"proposal": _proposal_summary(proposal)}
    if action == "reject":
        return decide_proposal(
            session, proposal=proposal, status=REJECTED, new_label=None, actor=actor
        )
    if action == "accept":
        return decide_proposal(
            session,
            proposal=proposal,
            status=ACCEPTED,
            new_label=proposal.proposed_label,
            actor=actor,
            evidence=evidence,
        )
    classes = class_names(session, dataset_id=proposal.dataset_id)
    if label is None or label not in classes:
        raise CurationError(f"label {label!r} is not a class of this dataset (classes: {', '.join(classes)})")
    status = ACCEPTED if label == proposal.proposed_label else OTHER
    return decide_proposal(
        session, proposal=proposal, status=status, new_label=label, actor=actor, evidence=evidence
    )


def _proposal_summary(proposal: Any) -> dict[str, Any]:
    return {
        "id": proposal.id,
        "method": proposal.method,
        "score": proposal.score,
        "current_label": proposal.current_label,
        "proposed_label": proposal.proposed_label,
        "votes": proposal.evidence.get("votes"),
        "probabilities": proposal.evidence.get("probabilities"),
    }


def undoable_revision(revisions: Sequence[LabelRevision]) -> LabelRevision | None:
    """The newest revision not already undone (undo revisions themselves are never undone: undoing
    repeatedly walks further back through the history)."""
    stack: list[LabelRevision] = []
    for revision in revisions:
        if revision.source == SOURCE_UNDO:
            undone = revision.evidence.get("undoes_revision_id")
            stack = [r for r in stack if r.id != undone]
        else:
            stack.append(revision)
    return stack[-1] if stack else None


def undo(session: DbSession, *, item_id: int, actor: str) -> LabelRevision:
    """Revert the item's newest not-yet-undone change with a new revision back to its old label.

    Only ``actor``'s own change is undone: when the newest change is someone else's (a colleague
    decided after you), CurationConflict names them and nothing changes. A proposal whose
    acceptance is undone is reopened, so it shows in the queue again.
    """
    if not actor:
        raise CurationError("actor is empty: pass the curator's handle")
    lock_item_labels(session, item_id=item_id)
    item = get_item(session, item_id=item_id)
    target = undoable_revision(item_revisions(session, item_id=item_id))
    if target is None:
        raise CurationError(
            f"item {item_id} has no label change to undo "
            f"(its label is still the original {item.original_label!r})"
        )
    if target.actor != actor:
        raise CurationConflict(
            f"the newest change to item {item_id} ({target.old_label!r} -> {target.new_label!r}) was made "
            f"by {target.actor}, not by {actor}: only {target.actor} can undo it"
        )
    return undo_revision(session, item=item, revision=target, actor=actor)


def merge_labels(
    session: DbSession, *, dataset_id: int, sources: Sequence[str], into: str, actor: str
) -> list[LabelRevision]:
    """Give every item labelled with one of ``sources`` the label ``into`` (a new class if needed).

    Returns one revision per changed item. The source classes stay defined (items' original labels
    still refer to them) but no item carries them as its current label afterwards.
    """
    if not actor:
        raise CurationError("actor is empty: pass the curator's handle")
    sources = list(dict.fromkeys(sources))
    if not sources:
        raise CurationError("no source classes given: name at least one class to merge")
    if not into or not into.strip():
        raise CurationError("the target class name (--into) is empty")
    classes = class_names(session, dataset_id=dataset_id)
    unknown = [s for s in sources if s not in classes]
    if unknown:
        raise CurationError(
            f"class(es) {', '.join(map(repr, unknown))} not in the dataset (classes: {', '.join(classes)})"
        )
    return merge_item_labels(session, dataset_id=dataset_id, sources=sources, into=into, actor=actor)


def export_labels(session: DbSession, *, dataset_id: int) -> pd.DataFrame:
    """Current labels with their history, one row per item (columns ``EXPORT_COLUMNS``)."""
    rows = label_export_rows(session, dataset_id=dataset_id)
    return pd.DataFrame(rows, columns=EXPORT_COLUMNS)


def write_labels_csv(frame: pd.DataFrame, path: str | Path) -> Path:
    """Write an ``export_labels`` frame as CSV (parent folders created)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_csv(frame, path, index=False)
    return path


def review_queue(
    session: DbSession, *, dataset_id: int, limit: int = DEFAULT_QUEUE_LIMIT
) -> list[dict[str, Any]]:
    """Open proposals, best score first, with what a curator needs to decide.

    Each entry: proposal_id, item_id, path (relative to settings.images_dir), split,
    original_label, current_label (the item's label now), proposed_label, score, method, votes
    ({label: count}), probabilities ({label: p}, model out-of-sample), twins ([{item_id,
    similarity, label}]), explanations ([{method, overlay_path (relative to settings.artifacts_dir),
    neighbours, model_version_id}]), evidence (everything stored), classes (the dataset's classes).
    """
    if limit < 1:
        raise CurationError(f"limit must be at least 1, got {limit}")
    classes = class_names(session, dataset_id=dataset_id)
    out = []
    for proposal, item in open_proposals(session, dataset_id=dataset_id, limit=limit):
        evidence = dict(proposal.evidence or {})
        out.append(
            {
                "proposal_id": proposal.id,
                "item_id": item.id,
                "path": item.path,
                "split": item.split,
                "original_label": item.original_label,
                "current_label": item.current_label,
                "proposed_label": proposal.proposed_label,
                "score": proposal.score,
                "method": proposal.method,
                "votes": evidence.get("votes", {}),
                "probabilities": evidence.get("probabilities", {}),
                "twins": evidence.get("twins", []),
                "explanations": item_explanations(session, item_id=item.id),
                "evidence": evidence,
                "classes": classes,
            }
        )
    return out


# ---- the `trustlab labels ...` verbs: by name, each one unit of work --------------------------------
def merge_dataset_labels(
    settings: Settings, *, dataset: str, sources: Sequence[str], into: str, actor: str
) -> list[LabelRevision]:
    """``merge_labels`` for the dataset called ``dataset``, committed."""
    with unit_of_work(settings) as session:
        dataset_id = get_dataset(session, name=dataset).id
        return merge_labels(session, dataset_id=dataset_id, sources=sources, into=into, actor=actor)


def export_dataset_labels(settings: Settings, *, dataset: str) -> pd.DataFrame:
    """``export_labels`` for the dataset called ``dataset``."""
    with read_session(settings) as session:
        return export_labels(session, dataset_id=get_dataset(session, name=dataset).id)


def dataset_review_queue(
    settings: Settings, *, dataset: str, limit: int = DEFAULT_QUEUE_LIMIT
) -> list[dict[str, Any]]:
    """``review_queue`` for the dataset called ``dataset``."""
    with read_session(settings) as session:
        return review_queue(session, dataset_id=get_dataset(session, name=dataset).id, limit=limit)


def decide_by_id(
    settings: Settings, *, proposal_id: int, action: str, label: str | None = None, actor: str
) -> LabelRevision | None:
    """``decide``, committed."""
    with unit_of_work(settings) as session:
        return decide(session, proposal_id=proposal_id, action=action, label=label, actor=actor)


def undo_item(settings: Settings, *, item_id: int, actor: str) -> LabelRevision:
    """``undo``, committed."""
    with unit_of_work(settings) as session:
        return undo(session, item_id=item_id, actor=actor)
