"""Queries for relabel proposals and curators' decisions on them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from trustlab.db.queries.errors import NotFound
from trustlab.db.queries.labels import SOURCE_CURATOR, SOURCE_UNDO, change_label
from trustlab.db.schema import (
    Item,
    LabelRevision,
    RelabelProposal,
    utcnow,
)

# Proposal statuses. "other" = the curator chose a label different from the proposed one;
# "superseded" = another proposal for the same item was decided first, so this one is moot.
OPEN = "open"


ACCEPTED = "accepted"


REJECTED = "rejected"


OTHER = "other"


SUPERSEDED = "superseded"


DECIDED_STATUSES = (ACCEPTED, REJECTED, OTHER)


def get_proposal(session: Session, *, proposal_id: int) -> RelabelProposal:
    proposal = session.get(RelabelProposal, proposal_id)
    if proposal is None:
        raise NotFound(f"proposal {proposal_id} does not exist; list open ones with `trustlab labels queue`")
    return proposal


def lock_item_labels(session: Session, *, item_id: int) -> None:
    """Lock an item's row until the unit ends, so that decisions and undos of one item's label run one
    after another (PostgreSQL: SELECT ... FOR UPDATE; a SQLite unit of work holds the database's
    write lock from its start, which serialises them already)."""
    session.execute(select(Item.id).where(Item.id == item_id).with_for_update())


def lock_proposal(session: Session, *, proposal_id: int) -> RelabelProposal:
    """The proposal, read after locking its item (``lock_item_labels``) and itself: a decision that
    waited for a concurrent one sees that one's outcome, not the state before it."""
    item_id = session.scalar(select(RelabelProposal.item_id).where(RelabelProposal.id == proposal_id))
    if item_id is None:
        get_proposal(session, proposal_id=proposal_id)  # raises NotFound with the usual hint
    lock_item_labels(session, item_id=item_id)
    query = (
        select(RelabelProposal)
        .where(RelabelProposal.id == proposal_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return session.scalars(query).one()


def proposals_by_key(session: Session, *, dataset_id: int) -> dict[tuple[int, str], RelabelProposal]:
    """{(item_id, proposed_label): proposal} for open and decided proposals (newest wins)."""
    query = (
        select(RelabelProposal)
        .where(RelabelProposal.dataset_id == dataset_id, RelabelProposal.status != SUPERSEDED)
        .order_by(RelabelProposal.id)
    )
    out: dict[tuple[int, str], RelabelProposal] = {}
    for proposal in session.scalars(query):
        key = (proposal.item_id, proposal.proposed_label)
        if key in out and out[key].status in DECIDED_STATUSES:
            continue  # a decision is never hidden by a later open duplicate
        out[key] = proposal
    return out


def upsert_proposals(session: Session, *, dataset_id: int, rows: Sequence[dict[str, Any]]) -> dict[str, int]:
    """Store proposals: new (item, proposed label) pairs are added, open ones refreshed, decided
    ones left alone. Each row has item_id, current_label, proposed_label, score, method, evidence.

    Returns counts {"added", "refreshed", "skipped_decided"} and sets row["proposal_id"].
    """
    existing = proposals_by_key(session, dataset_id=dataset_id)
    counts = {"added": 0, "refreshed": 0, "skipped_decided": 0}
    new: list[tuple[dict[str, Any], RelabelProposal]] = []
    for row in rows:
        key = (int(row["item_id"]), str(row["proposed_label"]))
        found = existing.get(key)
        if found is not None and found.status in DECIDED_STATUSES:
            counts["skipped_decided"] += 1
            row["proposal_id"] = None
            continue
        if found is not None:
            found.current_label = row["current_label"]
            found.score = float(row["score"])
            found.method = row["method"]
            found.evidence = row.get("evidence", {})
            row["proposal_id"] = found.id
            counts["refreshed"] += 1
            continue
        proposal = RelabelProposal(
            dataset_id=dataset_id, item_id=key[0], current_label=row["current_label"], proposed_label=key[1],
            score=float(row["score"]), method=row["method"], evidence=row.get("evidence", {}), status=OPEN,
        )
        session.add(proposal)
        existing[key] = proposal
        new.append((row, proposal))
        counts["added"] += 1
    session.flush()
    for row, proposal in new:
        row["proposal_id"] = proposal.id
    return counts


def open_proposals(
    session: Session, *, dataset_id: int, limit: int | None = None
) -> list[tuple[RelabelProposal, Item]]:
    """Open proposals with their items, best score first (ties: oldest first)."""
    query = (
        select(RelabelProposal, Item)
        .join(Item, RelabelProposal.item_id == Item.id)
        .where(RelabelProposal.dataset_id == dataset_id, RelabelProposal.status == OPEN)
        .order_by(RelabelProposal.score.desc(), RelabelProposal.id)
    )
    if limit is not None:
        query = query.limit(limit)
    return [(p, i) for p, i in session.execute(query)]


def decided_item_labels(session: Session, *, dataset_id: int) -> set[tuple[int, str]]:
    """(item_id, proposed_label) pairs a curator already accepted, rejected or overrode."""
    query = select(RelabelProposal.item_id, RelabelProposal.proposed_label).where(
        RelabelProposal.dataset_id == dataset_id, RelabelProposal.status.in_(DECIDED_STATUSES)
    )
    return {(i, label) for i, label in session.execute(query)}


def decide_proposal(
    session: Session, *, proposal: RelabelProposal, status: str, new_label: str | None, actor: str,
    evidence: dict[str, Any] | None = None,
) -> LabelRevision | None:
    """Record a curator's decision; with ``new_label`` also change the item's label (one unit of work).

    Other open proposals of the same item are marked superseded when the label changes.
    """
    now = utcnow()
    revision = None
    if new_label is not None:
        item = session.get(Item, proposal.item_id)
        if item is None:
            raise NotFound(f"item {proposal.item_id} of proposal {proposal.id} does not exist")
        if item.current_label != new_label:
            revision = change_label(session, item=item, new_label=new_label, source=SOURCE_CURATOR,
                                     actor=actor, evidence=evidence, proposal_id=proposal.id, when=now)
        others = select(RelabelProposal).where(
            RelabelProposal.item_id == proposal.item_id, RelabelProposal.status == OPEN,
            RelabelProposal.id != proposal.id,
        )
        for other in session.scalars(others):
            other.status = SUPERSEDED
    proposal.status = status
    proposal.decided_by = actor
    proposal.decided_at = now
    session.flush()
    return revision


def undo_revision(session: Session, *, item: Item, revision: LabelRevision, actor: str) -> LabelRevision:
    """A new revision back to ``revision.old_label``; a proposal it came from is reopened."""
    new = change_label(session, item=item, new_label=revision.old_label, source=SOURCE_UNDO, actor=actor,
                        evidence={"undoes_revision_id": revision.id, "undone_source": revision.source})
    if revision.proposal_id is not None:
        proposal = session.get(RelabelProposal, revision.proposal_id)
        if proposal is not None:
            proposal.status = OPEN
            proposal.decided_by = None
            proposal.decided_at = None
    session.flush()
    return new


def item_proposals(session: Session, *, item_id: int) -> list[RelabelProposal]:
    """Every proposal of an item (any status), oldest first."""
    query = select(RelabelProposal).where(RelabelProposal.item_id == item_id).order_by(RelabelProposal.id)
    return list(session.scalars(query))


def reopen_rejected(session: Session, *, proposal: RelabelProposal, actor: str) -> RelabelProposal:
    """An open copy of the rejected ``proposal``, which stays as it was (who rejected it, when): the
    copy's evidence says which rejection it reopens, who reopened it and when (``evidence["undo"]``)."""
    now = utcnow()
    undo = {"reopens_proposal_id": proposal.id, "by": actor, "at": now.isoformat(timespec="seconds")}
    copy = RelabelProposal(
        dataset_id=proposal.dataset_id, item_id=proposal.item_id, current_label=proposal.current_label,
        proposed_label=proposal.proposed_label, score=proposal.score, method=proposal.method,
        evidence={**(proposal.evidence or {}), "undo": undo}, status=OPEN, created_at=now,
    )
    session.add(copy)
    session.flush()
    return copy


def count_open_proposals(session: Session, *, dataset_id: int) -> int:
    """How many open relabel proposals a dataset has (the curator's queue, unbounded)."""
    query = select(func.count(RelabelProposal.id)).where(
        RelabelProposal.dataset_id == dataset_id, RelabelProposal.status == OPEN
    )
    return int(session.scalar(query) or 0)


def count_relabel_proposals(session: Session, *, dataset_id: int) -> int:
    """How many relabel proposals (open or decided) a dataset has."""
    query = select(func.count(RelabelProposal.id)).where(RelabelProposal.dataset_id == dataset_id)
    return int(session.scalar(query) or 0)
