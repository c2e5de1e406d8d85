"""Queries for dataset items."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from trustlab.db.queries.errors import NotFound
from trustlab.db.schema import (
    Item,
)


def add_items(session: Session, *, items: Sequence[Item]) -> None:
    session.add_all(items)
    session.flush()


def list_items(
    session: Session, *, dataset_id: int, split: str | Sequence[str] | None = None
) -> list[Item]:
    """Items of a dataset ordered by id; ``split`` filters by one split name or several."""
    query = select(Item).where(Item.dataset_id == dataset_id)
    if isinstance(split, str):
        query = query.where(Item.split == split)
    elif split is not None:
        query = query.where(Item.split.in_(list(split)))
    return list(session.scalars(query.order_by(Item.id)))


def get_item(session: Session, *, item_id: int) -> Item:
    item = session.get(Item, item_id)
    if item is None:
        raise NotFound(f"item {item_id} does not exist")
    return item


def items_by_sha(session: Session, *, dataset_id: int) -> dict[str, tuple[str, str]]:
    """{sha256: (source_path, original_label)} of every item of a dataset: the dedupe index of ingest,
    read in one query instead of one per file."""
    rows = session.execute(
        select(Item.sha256, Item.source_path, Item.original_label).where(Item.dataset_id == dataset_id)
    )
    return {sha: (source, label) for sha, source, label in rows}


def item_labels(session: Session, *, item_ids: Sequence[int]) -> dict[int, str]:
    """{item_id: current_label}."""
    ids = list(item_ids)
    out: dict[int, str] = {}
    for start in range(0, len(ids), 500):
        query = select(Item.id, Item.current_label).where(Item.id.in_(ids[start : start + 500]))
        out.update({item_id: label for item_id, label in session.execute(query)})
    return out


def items_by_ids(session: Session, *, item_ids: Sequence[int]) -> dict[int, Item]:
    if not item_ids:
        return {}
    return {item.id: item for item in session.scalars(select(Item).where(Item.id.in_(list(item_ids))))}
