"""Queries for the participants of link studies, their practice and attention-check
answers and their study's completion and screen-out codes.

Facts only: when a participant counts as admitted, finished or screened out is decided above ``db``
(``trustlab.studies.recruitment.rules``)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from trustlab.db.engine import savepoint
from trustlab.db.schema import (
    Assignment,
    Participant,
    ParticipantAnswer,
    StudyRecruitment,
    User,
)


def add_participant(
    session: Session,
    *,
    study_id: int,
    rater_id: int,
    pid: str,
    platform: str,
    params: dict[str, Any],
    now: datetime,
    consent_at: datetime | None,
) -> Participant:
    """Insert a started participant (flushed, so it has its id)."""
    participant = Participant(
        study_id=study_id,
        rater_id=rater_id,
        pid=pid,
        platform=platform,
        params=dict(params),
        status="started",
        consent_at=consent_at,
        started_at=now,
        instructions_opened=0,
        attention_failures=0,
        gold_failures=0,
    )
    session.add(participant)
    session.flush()
    return participant


def participant_by_pid(session: Session, *, study_id: int, pid: str) -> Participant | None:
    query = select(Participant).where(Participant.study_id == study_id, Participant.pid == pid)
    return session.scalars(query).first()


def participant_for_rater(session: Session, *, rater_id: int, for_update: bool = False) -> Participant | None:
    """The participant a rater rates for (None: an invited rater or staff); ``for_update`` locks the
    row (PostgreSQL) until the unit ends, so status changes and failure counts do not interleave."""
    query = select(Participant).where(Participant.rater_id == rater_id)
    if for_update:
        query = query.with_for_update()
    return session.scalars(query).first()


def count_participants(session: Session, *, study_id: int, statuses: Sequence[str]) -> int:
    """How many of the study's participants have one of ``statuses``."""
    query = (
        select(func.count())
        .select_from(Participant)
        .where(Participant.study_id == study_id, Participant.status.in_(list(statuses)))
    )
    return int(session.scalar(query) or 0)


def study_participants(session: Session, *, study_id: int) -> list[Participant]:
    """Every participant of a study, in arrival order."""
    query = select(Participant).where(Participant.study_id == study_id).order_by(Participant.id)
    return list(session.scalars(query))


def started_before(session: Session, *, study_id: int, cutoff: datetime) -> list[Participant]:
    """The study's started participants who started before ``cutoff`` (locked on PostgreSQL)."""
    query = (
        select(Participant)
        .where(
            Participant.study_id == study_id, Participant.status == "started", Participant.started_at < cutoff
        )
        .order_by(Participant.id)
        .with_for_update()
    )
    return list(session.scalars(query))


def participant_rows(session: Session, *, study_id: int) -> list[dict[str, Any]]:
    """One dict per participant, arrival order: the participant's columns, ``rater`` (handle) and
    ``done`` / ``assigned`` (the rater's done and unreleased assignments)."""
    counts = (
        select(
            Assignment.rater_id,
            func.count().filter(Assignment.status == "done").label("done"),
            func.count().filter(Assignment.status != "released").label("assigned"),
        )
        .where(Assignment.study_id == study_id)
        .group_by(Assignment.rater_id)
        .subquery()
    )
    query = (
        select(Participant, User.username, counts.c.done, counts.c.assigned)
        .join(User, User.id == Participant.rater_id)
        .outerjoin(counts, counts.c.rater_id == Participant.rater_id)
        .where(Participant.study_id == study_id)
        .order_by(Participant.id)
    )
    rows = []
    for participant, handle, n_done, n_assigned in session.execute(query):
        row = {c.name: getattr(participant, c.key) for c in Participant.__table__.columns}
        rows.append({**row, "rater": handle, "done": int(n_done or 0), "assigned": int(n_assigned or 0)})
    return rows


def screened_out_reasons(session: Session, *, study_id: int) -> dict[int, str]:
    """{rater_id: status_reason or ""} of the study's screened-out participants."""
    query = select(Participant.rater_id, Participant.status_reason).where(
        Participant.study_id == study_id, Participant.status == "screened_out"
    )
    return {int(rater_id): reason or "" for rater_id, reason in session.execute(query)}


def set_participant_status(
    session: Session,
    *,
    participant_id: int,
    status: str,
    now: datetime,
    reason: str | None = None,
    completion_code: str | None = None,
    from_statuses: Sequence[str] = ("started",),
) -> bool:
    """Move a participant from one of ``from_statuses`` to ``status`` (finished at ``now``); False when
    it had another status already (the first change wins)."""
    values: dict[str, Any] = {"status": status, "finished_at": now, "status_reason": reason}
    if completion_code is not None:
        values["completion_code"] = completion_code
    result = session.execute(
        update(Participant)
        .where(Participant.id == participant_id, Participant.status.in_(list(from_statuses)))
        .values(**values)
        .execution_options(synchronize_session="fetch")
    )
    return result.rowcount == 1


def record_instructions_opened(session: Session, *, participant_id: int, now: datetime) -> Participant:
    """Count one opening of the instructions (first and last time kept)."""
    participant = session.get_one(Participant, participant_id, with_for_update=True)
    participant.instructions_opened = (participant.instructions_opened or 0) + 1
    if participant.instructions_first_at is None:
        participant.instructions_first_at = now
    participant.instructions_last_at = now
    session.flush()
    return participant


def add_failures(session: Session, *, participant_id: int, attention: int = 0, gold: int = 0) -> Participant:
    """Add to a participant's attention and gold failure counts; returns the row, refreshed."""
    session.execute(
        update(Participant)
        .where(Participant.id == participant_id)
        .values(
            attention_failures=Participant.attention_failures + attention,
            gold_failures=Participant.gold_failures + gold,
        )
        .execution_options(synchronize_session=False)
    )
    participant = session.get_one(Participant, participant_id)
    session.refresh(participant)
    return participant


def add_participant_answer(
    session: Session,
    *,
    participant_id: int,
    kind: str,
    index: int,
    item_id: int | None,
    answers: dict[str, Any],
    correct: bool,
    now: datetime,
) -> tuple[ParticipantAnswer, bool]:
    """Store a practice or attention answer once: ``(row, created)``; a second answer to the same
    ``(kind, index)`` returns the first one with created False (the first answer counts)."""
    existing = participant_answer(session, participant_id=participant_id, kind=kind, index=index)
    if existing is not None:
        return existing, False
    row = ParticipantAnswer(
        participant_id=participant_id,
        kind=kind,
        index=index,
        item_id=item_id,
        answers=dict(answers),
        correct=bool(correct),
        created_at=now,
    )
    try:
        with savepoint(session):
            session.add(row)
    except IntegrityError:
        found = participant_answer(session, participant_id=participant_id, kind=kind, index=index)
        if found is None:
            raise
        return found, False
    return row, True


def participant_answer(
    session: Session, *, participant_id: int, kind: str, index: int
) -> ParticipantAnswer | None:
    query = select(ParticipantAnswer).where(
        ParticipantAnswer.participant_id == participant_id,
        ParticipantAnswer.kind == kind,
        ParticipantAnswer.index == index,
    )
    return session.scalars(query).first()


def participant_answers(
    session: Session, *, participant_id: int, kind: str | None = None
) -> list[ParticipantAnswer]:
    """A participant's practice and attention answers (one kind, or both), by kind and index."""
    query = select(ParticipantAnswer).where(ParticipantAnswer.participant_id == participant_id)
    if kind is not None:
        query = query.where(ParticipantAnswer.kind == kind)
    return list(session.scalars(query.order_by(ParticipantAnswer.kind, ParticipantAnswer.index)))


def release_rater_assignments(session: Session, *, study_id: int, rater_id: int) -> int:
    """Release a rater's unfinished assignments (status "released", as ``assignments.release_inactive``
    does for inactive raters), so other raters can take the items. Returns how many."""
    result = session.execute(
        update(Assignment)
        .where(
            Assignment.study_id == study_id, Assignment.rater_id == rater_id, Assignment.status == "assigned"
        )
        .values(status="released")
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)


def recruitment_codes(session: Session, *, study_id: int) -> StudyRecruitment | None:
    return session.get(StudyRecruitment, study_id)


def add_recruitment_codes(
    session: Session, *, study_id: int, completion_code: str, screenout_code: str, now: datetime
) -> StudyRecruitment:
    """The study's codes: these, or the ones a concurrent request stored first."""
    existing = recruitment_codes(session, study_id=study_id)
    if existing is not None:
        return existing
    row = StudyRecruitment(
        study_id=study_id, completion_code=completion_code, screenout_code=screenout_code, created_at=now
    )
    try:
        with savepoint(session):
            session.add(row)
    except IntegrityError:
        found = recruitment_codes(session, study_id=study_id)
        if found is None:
            raise
        return found
    return row
