"""Queries for studies and their items."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from trustlab.db.queries.errors import NotFound
from trustlab.db.queries.lookup import get_named
from trustlab.db.schema import (
    Study,
    StudyItem,
    StudyPreregistration,
    StudyUnblinding,
)


def get_study(session: Session, *, name: str) -> Study:
    """The study called ``name``; NotFound lists the known studies."""
    return get_named(session, Study, name=name, noun="study", remedy="create it with `trustlab study create`")


def study_name_status(session: Session, *, study_id: int) -> tuple[str, str]:
    """(name, status) of a study, without loading its config (the rater's every answer checks it)."""
    row = session.execute(select(Study.name, Study.status).where(Study.id == study_id)).first()
    if row is None:
        raise NotFound(f"study id {study_id} does not exist")
    return row[0], row[1]


def get_study_by_id(session: Session, *, study_id: int) -> Study:
    study = session.get(Study, study_id)
    if study is None:
        raise NotFound(f"study id {study_id} does not exist")
    return study


def study_exists(session: Session, *, name: str) -> bool:
    return session.scalars(select(Study.id).where(Study.name == name)).first() is not None


def add_study(session: Session, *, study: Study, items: Sequence[StudyItem]) -> Study:
    """Insert a study and its items in one transaction."""
    session.add(study)
    session.flush()
    for item in items:
        item.study_id = study.id
    session.add_all(list(items))
    session.flush()
    return study


def set_study_status(session: Session, *, study_id: int, status: str) -> Study:
    study = get_study_by_id(session, study_id=study_id)
    study.status = status
    session.flush()
    return study


def lock_study(session: Session, *, study_id: int) -> None:
    """Serialise assignment-making for one study until the unit of work ends (commit or rollback).

    PostgreSQL: a row lock (SELECT ... FOR UPDATE). SQLite: a no-op UPDATE, which takes the database's
    write lock at the start of the transaction, so the reads that follow see every committed
    assignment (the busy timeout makes a second arrival wait instead of failing).
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(select(Study.id).where(Study.id == study_id).with_for_update())
    else:
        session.execute(update(Study).where(Study.id == study_id).values(status=Study.status))


def study_items(session: Session, *, study_id: int) -> list[StudyItem]:
    """The study's items (regular and gold) ordered by item id."""
    query = select(StudyItem).where(StudyItem.study_id == study_id).order_by(StudyItem.item_id)
    return list(session.scalars(query))


def study_item_facts(session: Session, *, study_id: int) -> list[Any]:
    """The study's items as light rows (``item_id``, ``is_gold``, ``model_correct``) by item id: what
    assignment needs, without loading each StudyItem (a new rater's list is made from these)."""
    query = (
        select(StudyItem.item_id, StudyItem.is_gold, StudyItem.model_correct)
        .where(StudyItem.study_id == study_id)
        .order_by(StudyItem.item_id)
    )
    return list(session.execute(query))


def list_studies(session: Session) -> list[Study]:
    return list(session.scalars(select(Study).order_by(Study.name)))


def add_unblinding(
    session: Session, *, study_id: int, source: str, actor: str, reason: str = ""
) -> StudyUnblinding:
    """Append one record of a look at the study's outcome numbers (see ``StudyUnblinding``)."""
    row = StudyUnblinding(study_id=study_id, source=source, actor=actor, reason=reason)
    session.add(row)
    session.flush()
    return row


def study_unblindings(session: Session, *, study_id: int) -> list[StudyUnblinding]:
    """The study's unblinding records, oldest first (the first is the unblinding)."""
    query = (
        select(StudyUnblinding)
        .where(StudyUnblinding.study_id == study_id)
        .order_by(StudyUnblinding.created_at, StudyUnblinding.id)
    )
    return list(session.scalars(query))


def get_preregistration(session: Session, *, study_id: int) -> StudyPreregistration | None:
    """The study's record of its analysis at its first opening (None: never opened since 0009)."""
    return session.scalars(
        select(StudyPreregistration).where(StudyPreregistration.study_id == study_id)
    ).first()


def add_preregistration(session: Session, *, record: StudyPreregistration) -> StudyPreregistration:
    session.add(record)
    session.flush()
    return record
