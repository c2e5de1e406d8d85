"""Curator review: decide on proposals, undo, merge classes, export labels, the review queue.

Every label change is a ``LabelRevision`` written together with ``Item.current_label`` by
trustlab/db/queries/labels.py; ``Item.original_label`` never changes. The curator tab of the app and the
``trustlab labels ...`` verbs call these functions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
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
    count_open_proposals,
    decide_proposal,
    item_proposals,
    lock_item_labels,
    lock_proposal,
    open_proposals,
    reopen_rejected,
    undo_revision,
)
from trustlab.db.schema import LabelRevision, RelabelProposal

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


@dataclass(frozen=True)
class Undone:
    """What ``undo_decision`` reverted.

    kind: "label change" (an accept, an override or a merge: reverted by a new LabelRevision) or
        "reject" (reopened as a new open proposal; the rejection itself stays as it was).
    proposal_id: the proposal that is open again (the reopened copy for a reject; None for a merge).
    revision: the new undo revision (None for a reject, which changed no label).
    label: the item's label afterwards.
    """

    item_id: int
    kind: str
    proposal_id: int | None
    revision: LabelRevision | None
    label: str


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
            + "; only whoever decided it can undo that decision"
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
    if not label:
        raise CurationError(f"no label chosen: choose a label first (one of {', '.join(classes)})")
    if label not in classes:
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


def undoable_rejection(proposals: Sequence[RelabelProposal]) -> RelabelProposal | None:
    """The newest rejected proposal not reopened yet (a reopened copy names it in ``evidence["undo"]``)."""
    reopened = {((p.evidence or {}).get("undo") or {}).get("reopens_proposal_id") for p in proposals}
    rejected = [p for p in proposals if p.status == REJECTED and p.id not in reopened]
    return max(rejected, key=lambda p: (_utc(p.decided_at), p.id), default=None)


def _utc(moment: datetime | None) -> datetime:
    """``moment`` as an aware UTC datetime (SQLite hands back naive ones, stored in UTC)."""
    if moment is None:
        return datetime.min.replace(tzinfo=UTC)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def undo_decision(session: DbSession, *, item_id: int, actor: str) -> Undone:
    """Undo ``actor``'s newest decision on an item that is not undone yet, whatever it was.

    A label change (accept, override, merge) is reverted by ``undo``'s new revision and its proposal
    reopened; a reject, which changed no label, is undone by an open copy of the proposal (the
    rejection keeps who made it and when). Nothing is overwritten without a row that records it. Only
    ``actor``'s own decision is undone: CurationConflict names whoever made a newer one.
    """
    if not actor:
        raise CurationError("actor is empty: pass the curator's handle")
    lock_item_labels(session, item_id=item_id)
    item = get_item(session, item_id=item_id)
    revision = undoable_revision(item_revisions(session, item_id=item_id))
    rejection = undoable_rejection(item_proposals(session, item_id=item_id))
    if revision is None and rejection is None:
        raise CurationError(f"item {item_id} has no decision to undo (nothing was decided, or all is undone)")
    if rejection is not None and (
        revision is None or (_utc(rejection.decided_at), 1) > (_utc(revision.created_at), 0)
    ):
        if rejection.decided_by != actor:
            raise CurationConflict(
                f"the newest decision on item {item_id} (keeping {rejection.current_label!r}, not "
                f"{rejection.proposed_label!r}) was made by {rejection.decided_by}, not by {actor}: only "
                f"{rejection.decided_by} can undo it"
            )
        copy = reopen_rejected(session, proposal=rejection, actor=actor)
        return Undone(item_id, "reject", copy.id, None, item.current_label)
    new = undo(session, item_id=item_id, actor=actor)
    return Undone(item_id, "label change", revision.proposal_id, new, new.new_label)


def open_proposal_count(session: DbSession, *, dataset_id: int) -> int:
    """How many proposals of the dataset are open (the whole queue, not only the part listed)."""
    return count_open_proposals(session, dataset_id=dataset_id)


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


def undo_item(settings: Settings, *, item_id: int, actor: str) -> Undone:
    """``undo_decision``, committed: the CLI undoes what the curator tab's ``u`` undoes."""
    with unit_of_work(settings) as session:
        return undo_decision(session, item_id=item_id, actor=actor)
