"""Storing a rater's answer (``Services.submit``): checked, idempotent, on disk before it is
acknowledged; one unit of work that reads what it checks fresh, with the assignment locked."""

from __future__ import annotations

import json
from datetime import UTC
from typing import Any

from trustlab.clock import utc_now
from trustlab.db.engine import DbSession, unit_of_work
from trustlab.db.queries.assignments import assignment_for_answer
from trustlab.db.queries.judgements import Answer, judgement_by_key, rater_key_elsewhere, record_judgement
from trustlab.db.queries.studies import study_name_status
from trustlab.platform.accounts.auth import Principal
from trustlab.platform.content.study_cache import StudyContext, StudyLookup, rater_study_or_none
from trustlab.platform.errors import Conflict, InvalidAnswer, NotFoundError, lookups_as_404
from trustlab.platform.recruitment import steps as participant_steps
from trustlab.studies.questions import AnswerError, validate_answers

MAX_IDEMPOTENCY_KEY = 200


class NotAnswerable(Conflict):
    """The assignment takes no answer now: its study is not open, it was released (given back after a
    timeout), or its rater has finished. Loading the next item shows where the rater stands."""


def submit(
    services: StudyLookup,
    principal: Principal,
    *,
    assignment_id: int,
    answers: dict[str, Any],
    idempotency_key: str,
    client_elapsed_ms: float | None = None,
) -> tuple[int, bool]:
    """Store a judgement (``Services.submit``); returns ``(judgement_id, created)``.

    The same ``idempotency_key`` again returns the stored id with ``created=False``. Raises
    NotFoundError (not the caller's assignment), InvalidAnswer (names the field), Conflict (key
    reused for another of the rater's assignments, or sent again with different answers),
    NotAnswerable (a Conflict: the study is not open, the assignment was released after a
    timeout, or the rater has finished).
    """
    # Before any unit: the study cache may open a session of its own (one at a time each).
    ctx = rater_study_or_none(services, principal)
    if ctx is not None and ctx.config.max_minutes is not None:
        participant_steps.refresh_status(services, principal)  # a session past max_minutes ends
    _check_request(idempotency_key, client_elapsed_ms)
    not_yours = NotFoundError(f"assignment {assignment_id} is not one of your assignments")
    if ctx is None:  # staff: they have no assignments
        raise not_yours
    # One unit: the checks read fresh, with the assignment locked (PostgreSQL; SQLite: the write
    # lock), and returning from inside it commits first, so a judgement is on disk before the
    # rater is told it was stored.
    with unit_of_work(services.settings) as s:
        found = assignment_for_answer(s, assignment_id=assignment_id, rater_id=principal.rater_id)
        if found is None or found[0].study_id != ctx.id:
            raise not_yours
        assignment, completion_code = found
        cleaned = _validated(ctx, answers, assignment.condition)
        # Keys are unique per assignment: another rater's keys are never seen here.
        existing = judgement_by_key(s, assignment_id=assignment_id, idempotency_key=idempotency_key)
        if existing is not None:  # sent again (even after the study closed): acknowledged again
            return _replay(existing, cleaned), False
        if rater_key_elsewhere(
            s, rater_id=principal.rater_id, idempotency_key=idempotency_key, assignment_id=assignment_id
        ):
            raise Conflict("this idempotency_key was already used for another answer; send a new key")
        _check_study_open(s, assignment)
        _check_answerable(assignment, completion_code)
        judgement, created = _record(
            s, assignment, principal, cleaned, idempotency_key=idempotency_key,
            client_elapsed_ms=client_elapsed_ms,
        )
        if not created:
            return _replay(judgement, cleaned), False
        participant_steps.after_judgement(s, ctx, principal, assignment=assignment, answers=cleaned)
        return judgement.id, True


def _check_request(idempotency_key: str, client_elapsed_ms: float | None) -> None:
    """Raise InvalidAnswer for a key or elapsed time the request may not carry."""
    if not isinstance(idempotency_key, str) or not 1 <= len(idempotency_key) <= MAX_IDEMPOTENCY_KEY:
        raise InvalidAnswer("idempotency_key", f"must be 1-{MAX_IDEMPOTENCY_KEY} characters")
    if client_elapsed_ms is not None and (
        client_elapsed_ms < 0 or client_elapsed_ms != client_elapsed_ms
    ):
        raise InvalidAnswer("client_elapsed_ms", "must be a non-negative number of milliseconds")


def _validated(ctx: StudyContext, answers: dict[str, Any], condition: str) -> dict[str, Any]:
    """The answers as the study's questions allow them (InvalidAnswer names the field at fault)."""
    try:
        return validate_answers(ctx.config, answers, ctx.class_names, condition=condition)
    except AnswerError as exc:
        raise InvalidAnswer(exc.field, exc.message) from exc


def _check_study_open(session: DbSession, assignment: Any) -> None:
    """Raise NotAnswerable unless the study is open, read fresh (the cache may be seconds old): a
    closed study has been unblinded and analysed, so its data must not change afterwards."""
    name, status = study_name_status(session, study_id=assignment.study_id)
    if status != "open":
        raise NotAnswerable(
            f"study {name!r} is {status}: it takes no more answers (your earlier answers are stored)"
        )


def _record(
    session: DbSession,
    assignment: Any,
    principal: Principal,
    cleaned: dict[str, Any],
    *,
    idempotency_key: str,
    client_elapsed_ms: float | None,
) -> tuple[Any, bool]:
    """Store the judgement with its response time (from when the item was shown); ``(row, created)``."""
    now = utc_now()
    shown_at = assignment.served_at or assignment.assigned_at
    if shown_at.tzinfo is None:
        shown_at = shown_at.replace(tzinfo=UTC)
    response_ms = max(0.0, (now - shown_at).total_seconds() * 1000.0)
    with lookups_as_404():
        return record_judgement(
            session,
            assignment_id=assignment.id,
            rater_id=principal.rater_id,
            answer=Answer(cleaned, idempotency_key, response_ms, client_elapsed_ms),
            now=now,
            assignment=assignment,
        )


def _check_answerable(assignment: Any, completion_code: str | None) -> None:
    """Raise NotAnswerable when the assignment was released or its rater has finished (read and
    locked in the writing unit: a release committed meanwhile is seen)."""
    if assignment.status == "released":
        raise NotAnswerable(
            "this item was released after a time without activity and may now be with another "
            "rater, so this answer was not stored; load your next item to continue"
        )
    if completion_code is not None:
        raise NotAnswerable(
            "you have finished this study and received your completion code; answers can no "
            "longer be added or changed"
        )


def _replay(judgement, cleaned: dict[str, Any]) -> int:
    """The stored judgement's id for a request sent again; a different answer under the same key
    is a client error (a changed answer needs a new key), not something to drop silently."""
    if json.loads(json.dumps(cleaned)) != judgement.answers:
        raise Conflict(
            "this idempotency_key was already used for a different answer to this assignment; "
            "send a changed answer with a new key"
        )
    return judgement.id

