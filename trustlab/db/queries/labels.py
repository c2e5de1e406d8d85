"""Queries for a dataset's classes and for label changes.

The only module that changes ``Item.current_label``; it always adds a ``LabelRevision`` row in the
same transaction. ``Item.original_label`` is never written."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from trustlab.db.schema import (
    Item,
    Label,
    LabelRevision,
    utcnow,
)


def class_names(session: Session, *, dataset_id: int) -> list[str]:
    """The dataset's classes in index order."""
    query = select(Label.name).where(Label.dataset_id == dataset_id).order_by(Label.index)
    return list(session.scalars(query))


def ensure_labels(session: Session, *, dataset_id: int, names: Sequence[str]) -> list[str]:
    """Add the classes not there yet (appended in the given order); returns all classes in order."""
    existing = class_names(session, dataset_id=dataset_id)
    next_index = len(existing)
    for name in names:
        if name not in existing:
            session.add(Label(dataset_id=dataset_id, name=name, index=next_index))
            existing.append(name)
            next_index += 1
    session.flush()
    return existing


# LabelRevision.source values written here.
SOURCE_CURATOR = "curator"


SOURCE_MERGE = "merge"


SOURCE_UNDO = "undo"


def change_label(
    session: Session, *, item: Item, new_label: str, source: str, actor: str,
    evidence: dict[str, Any] | None = None, proposal_id: int | None = None, when: datetime | None = None,
) -> LabelRevision:
    """Add the revision and move ``current_label`` together (in the caller's unit of work).

    Every change writes a revision, even one back to the label the item already has."""
    revision = LabelRevision(
        item_id=item.id, old_label=item.current_label, new_label=new_label, source=source,
        evidence=evidence or {}, actor=actor, proposal_id=proposal_id, created_at=when or utcnow(),
    )
    session.add(revision)
    item.current_label = new_label
    return revision


def item_revisions(session: Session, *, item_id: int) -> list[LabelRevision]:
    query = select(LabelRevision).where(LabelRevision.item_id == item_id).order_by(LabelRevision.id)
    return list(session.scalars(query))


def merge_item_labels(
    session: Session, *, dataset_id: int, sources: Sequence[str], into: str, actor: str
) -> list[LabelRevision]:
    """Relabel every item whose current label is in ``sources`` to ``into`` (added as a class when
    new), one revision per changed item, all in the caller's unit of work."""
    ensure_labels(session, dataset_id=dataset_id, names=[into])
    query = (
        select(Item)
        .where(Item.dataset_id == dataset_id, Item.current_label.in_(list(sources)),
               Item.current_label != into)
        .order_by(Item.id)
    )
    evidence = {"merged": list(sources), "into": into}
    now = utcnow()
    revisions = [
        change_label(session, item=item, new_label=into, source=SOURCE_MERGE, actor=actor,
                      evidence=evidence, when=now)
        for item in session.scalars(query)
    ]
    session.flush()
    return revisions


def label_export_rows(session: Session, *, dataset_id: int) -> list[dict[str, Any]]:
    """One row per item with its labels and revision summary, in item id order."""
    stats = (
        select(LabelRevision.item_id, func.count().label("n"), func.max(LabelRevision.id).label("last_id"))
        .join(Item, LabelRevision.item_id == Item.id)
        .where(Item.dataset_id == dataset_id)
        .group_by(LabelRevision.item_id)
        .subquery()
    )
    query = (
        select(Item, stats.c.n, LabelRevision.actor, LabelRevision.created_at)
        .outerjoin(stats, stats.c.item_id == Item.id)
        .outerjoin(LabelRevision, LabelRevision.id == stats.c.last_id)
        .where(Item.dataset_id == dataset_id)
        .order_by(Item.id)
    )
    return [
        {
            "item_id": item.id, "path": item.path, "split": item.split,
            "original_label": item.original_label, "current_label": item.current_label,
            "n_revisions": int(n or 0), "last_change_by": actor, "last_change_at": at,
        }
        for item, n, actor, at in session.execute(query)
    ]


def latest_revision_ids(session: Session, *, item_ids: Sequence[int]) -> dict[int, int]:
    """{item_id: id of its newest LabelRevision} for the given items that were ever relabelled."""
    ids = list(item_ids)
    out: dict[int, int] = {}
    for start in range(0, len(ids), 500):
        query = (
            select(LabelRevision.item_id, func.max(LabelRevision.id))
            .where(LabelRevision.item_id.in_(ids[start : start + 500]))
            .group_by(LabelRevision.item_id)
        )
        out.update({item_id: revision_id for item_id, revision_id in session.execute(query)})
    return out
