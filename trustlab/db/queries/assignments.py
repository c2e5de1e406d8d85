"""Queries for assignments: a rater's items in a study, their status and progress."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import case, exists, func, select, update
from sqlalchemy.orm import Session

from trustlab.db.queries.errors import NotFound
from trustlab.db.queries.times import as_utc
from trustlab.db.schema import (
    Assignment,
    User,
)

ACTIVE_STATUSES = ("assigned", "done")


def rater_assignments(session: Session, *, study_id: int, rater_id: int) -> list[Assignment]:
    """All of a rater's assignments in a study (any status), by position."""
    query = (
        select(Assignment)
        .where(Assignment.study_id == study_id, Assignment.rater_id == rater_id)
        .order_by(Assignment.position, Assignment.id)
    )
    return list(session.scalars(query))


def rater_progress(session: Session, *, study_id: int, rater_id: int) -> tuple[int, int]:
    """(done, total) of the rater's assignments in a study, released ones left out, counted in SQL."""
    done = func.coalesce(func.sum(case((Assignment.status == "done", 1), else_=0)), 0)
    query = select(done, func.count()).where(
        Assignment.study_id == study_id, Assignment.rater_id == rater_id, Assignment.status != "released"
    )
    row = session.execute(query).one()
    return int(row[0]), int(row[1])


def active_counts(session: Session, *, study_id: int) -> dict[tuple[int, str], int]:
    """{(item_id, condition): number of assigned or done, non-gold assignments}."""
    query = (
        select(Assignment.item_id, Assignment.condition, func.count())
        .where(
            Assignment.study_id == study_id,
            Assignment.is_gold.is_(False),
            Assignment.status.in_(ACTIVE_STATUSES),
        )
        .group_by(Assignment.item_id, Assignment.condition)
    )
    return {(item_id, condition): count for item_id, condition, count in session.execute(query)}


def arrived_raters(session: Session, *, study_id: int) -> int:
    """How many distinct raters have ever been given assignments in this study."""
    query = select(func.count(func.distinct(Assignment.rater_id))).where(Assignment.study_id == study_id)
    return int(session.scalar(query) or 0)


def add_assignments(session: Session, *, assignments: Sequence[Assignment]) -> None:
    session.add_all(list(assignments))
    session.flush()


def reactivate_assignments(session: Session, *, assignment_ids: Sequence[int], now: datetime) -> int:
    """Give released assignments back to their rater (status "assigned" again)."""
    if not assignment_ids:
        return 0
    result = session.execute(
        update(Assignment)
        .where(Assignment.id.in_(list(assignment_ids)), Assignment.status == "released")
        .values(status="assigned", assigned_at=as_utc(now))
    )
    return int(result.rowcount or 0)


def release_inactive(session: Session, *, study_id: int, cutoff: datetime) -> int:
    """Release the unfinished assignments of raters whose last activity in the study is before cutoff.

    A rater's last activity is their latest assignment or completion time, so a rater who is working
    steadily keeps their items however long the whole session takes.
    """
    last_activity = func.max(func.coalesce(Assignment.completed_at, Assignment.assigned_at))
    inactive = (
        select(Assignment.rater_id)
        .where(Assignment.study_id == study_id)
        .group_by(Assignment.rater_id)
        .having(last_activity < as_utc(cutoff))
    )
    result = session.execute(
        update(Assignment)
        .where(
            Assignment.study_id == study_id,
            Assignment.status == "assigned",
            Assignment.rater_id.in_(inactive.scalar_subquery()),
        )
        .values(status="released")
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)


def study_progress_rows(session: Session, *, study_id: int) -> list[dict[str, Any]]:
    """One row per (rater, condition, status) with counts, for `study status` and dashboards."""
    query = (
        select(
            User.id, User.username, Assignment.condition, Assignment.status, Assignment.is_gold, func.count()
        )
        .join(User, User.id == Assignment.rater_id)
        .where(Assignment.study_id == study_id)
        .group_by(User.id, User.username, Assignment.condition, Assignment.status, Assignment.is_gold)
        .order_by(User.id)
    )
    return [
        {
            "rater_id": rid,
            "username": username,
            "condition": condition,
            "status": status,
            "is_gold": gold,
            "count": count,
        }
        for rid, username, condition, status, gold, count in session.execute(query)
    ]


def assignment_condition(session: Session, *, assignment_id: int) -> str:
    condition = session.scalar(select(Assignment.condition).where(Assignment.id == assignment_id))
    if condition is None:
        raise NotFound(f"assignment {assignment_id} does not exist")
    return condition


def assignment_for_rater(
    session: Session, *, assignment_id: int, rater_id: int, for_update: bool = False
) -> Assignment | None:
    """The assignment if it belongs to ``rater_id``; ``for_update`` locks it (PostgreSQL) so that
    concurrent answers to one assignment get a well-defined supersedes chain."""
    query = select(Assignment).where(Assignment.id == assignment_id, Assignment.rater_id == rater_id)
    if for_update:
        query = query.with_for_update()
    return session.scalars(query).first()


def get_assignment(session: Session, *, assignment_id: int) -> Assignment | None:
    return session.get(Assignment, assignment_id)


def rater_has_item(session: Session, *, rater_id: int, item_id: int) -> bool:
    """True when one of the rater's assignments (any study, any status) shows this item."""
    query = select(exists().where(Assignment.rater_id == rater_id, Assignment.item_id == item_id))
    return bool(session.scalar(query))


def mark_served(session: Session, *, assignment_id: int, now: datetime) -> None:
    """Stamp the first time an assignment's item is shown (response time starts there)."""
    session.execute(
        update(Assignment)
        .where(Assignment.id == assignment_id, Assignment.served_at.is_(None))
        .values(served_at=now)
    )


def assigned_item_ids(session: Session, *, study_id: int) -> list[int]:
    """Items that have an assignment in the study (rated or not), in id order."""
    query = select(Assignment.item_id).where(Assignment.study_id == study_id).distinct()
    return sorted(session.scalars(query))


def assignment_for_answer(
    session: Session, *, assignment_id: int, rater_id: int
) -> tuple[Assignment, str | None] | None:
    """(the rater's assignment, the rater's completion code or None), the assignment locked
    (PostgreSQL) until the unit ends so that a release cannot slip in before the answer is stored;
    None when the assignment is not the rater's."""
    query = (
        select(Assignment, User.completion_code)
        .join(User, User.id == Assignment.rater_id)
        .where(Assignment.id == assignment_id, Assignment.rater_id == rater_id)
        .with_for_update(of=Assignment)
    )
    row = session.execute(query).first()
    return None if row is None else (row[0], row[1])
