"""Counterbalanced assignment, made as raters arrive.

When a rater first asks for work, their whole list is made in one locked transaction by
``rater_lists.plan_rater`` from the study's active assignments: the study's model-error share (to
within one item) with both kinds of item under every condition as far as the list's length allows,
a Latin square over item groups x raters (every rater sees every condition equally often, every item
gets every condition equally often when the numbers balance), Williams condition orders and gold items
spread through the list. See ``rater_lists`` for how.

Unfinished assignments of a rater inactive for ``timeout_minutes`` (or whose participation ended) are
released (``release_abandoned``) so that the next raters take the items; a returning rater gets
released items back while they still have room, as many as keep their list at the study's share.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import datetime, timedelta

from trustlab.clock import utc_now
from trustlab.db.engine import DbSession, retry_on_race
from trustlab.db.queries.assignments import (
    active_counts,
    add_assignments,
    arrived_raters,
    rater_assignments,
    rater_progress,
    reactivate_assignments,
    release_inactive,
)
from trustlab.db.queries.studies import get_study_by_id, lock_study, study_item_facts, study_name_status
from trustlab.db.queries.times import as_utc
from trustlab.db.schema import Assignment
from trustlab.studies.config.study import StudyConfig, load_study_config
from trustlab.studies.design.rater_lists import (
    PlannedAssignment,
    error_band,
    item_groups,
    plan_rater,
)

__all__ = ["PlannedAssignment", "item_groups", "plan_rater"]  # planning lives in rater_lists

# Attempts at making a rater's list when a concurrent writer wins a race (unique constraint, or
# SQLite reporting a busy database past its timeout).
MAX_ATTEMPTS = 5


class StudyNotOpen(RuntimeError):
    """The study is a draft or closed: it gives out no assignments (open it with `trustlab study open`)."""


def _first_open(assignments: Sequence[Assignment]) -> Assignment | None:
    open_ones = [a for a in assignments if a.status == "assigned"]
    return min(open_ones, key=lambda a: (a.position, a.id)) if open_ones else None


def _reactivate(
    session: DbSession, *, study_id: int, config: StudyConfig, mine: Sequence[Assignment], now: datetime
) -> None:
    """Give a returning rater back the released items that still have room: their gold items, and as
    many regular ones as keep their active list at the study's model-error share."""
    released = [a for a in mine if a.status == "released"]
    if not released:
        return
    counts = active_counts(session, study_id=study_id)
    totals: Counter[int] = Counter()
    for (item_id, _), count in counts.items():
        totals[item_id] += count
    facts = study_item_facts(session, study_id=study_id)
    wrong = {f.item_id for f in facts if not f.is_gold and f.model_correct is False}
    regular = [f for f in facts if not f.is_gold]
    share = len([f for f in regular if f.model_correct is False]) / len(regular) if regular else 0.0
    kept = [a for a in mine if a.status != "released" and not a.is_gold]
    room = [a for a in released if not a.is_gold and totals[a.item_id] < config.raters_per_item]
    back = _within_share(kept, room, wrong, share)
    ids = [a.id for a in released if a.is_gold] + [a.id for a in back]
    reactivate_assignments(session, assignment_ids=ids, now=now)
    for assignment in released:
        session.refresh(assignment)


def _within_share(
    kept: Sequence[Assignment], room: Sequence[Assignment], wrong: set[int], share: float
) -> list[Assignment]:
    """The most of ``room`` (in list order) that, added to ``kept``, hold the error share."""
    errors = [a for a in room if a.item_id in wrong]
    rights = [a for a in room if a.item_id not in wrong]
    kept_errors = sum(a.item_id in wrong for a in kept)
    best = (0, 0)
    for n_errors in range(len(errors) + 1):
        for n_rights in range(len(rights) + 1):
            low, high = error_band(len(kept) + n_errors + n_rights, share)
            if low <= kept_errors + n_errors <= high and n_errors + n_rights > sum(best):
                best = (n_errors, n_rights)
    return sorted(errors[: best[0]] + rights[: best[1]], key=lambda a: (a.position, a.id))


def next_assignment(
    session: DbSession, *, study_id: int, rater_id: int, now: datetime | None = None
) -> Assignment | None:
    """The rater's open assignment with the lowest position, making their list on first arrival.

    Returns None when the rater has finished (or the study has no room left for a new rater).

    Raises
    ------
    StudyNotOpen
        The study is a draft or closed.
    """
    now = as_utc(now or utc_now())
    study = get_study_by_id(session, study_id=study_id)
    if study.status != "open":
        raise StudyNotOpen(
            f"study {study.name!r} is {study.status}: it gives out no assignments"
            + (" (open it with `trustlab study open`)" if study.status == "draft" else "")
        )
    config = load_study_config(study.config)
    mine = rater_assignments(session, study_id=study_id, rater_id=rater_id)
    if mine:
        found = _first_open(mine)
        if found is None:
            _reactivate(session, study_id=study_id, config=config, mine=mine, now=now)
            found = _first_open(mine)
        return found
    # A concurrent arrival may win the race (or SQLite stay busy): then start again from fresh state.
    return retry_on_race(
        session,
        lambda: _allocate(session, study_id=study_id, rater_id=rater_id, config=config, now=now),
        attempts=MAX_ATTEMPTS,
    )


def current_assignment(
    session: DbSession, *, study_id: int, rater_id: int
) -> tuple[Assignment, int, int] | None:
    """Read only: (the rater's open assignment with the lowest position, done, total) when their list
    exists and has an open assignment; None when ``next_assignment`` must run instead (no list yet,
    the rater has finished, or released items may come back), or the study is not open.

    The common case of a rater going on to their next item, without the write lock."""
    if study_name_status(session, study_id=study_id)[1] != "open":
        return None
    mine = rater_assignments(session, study_id=study_id, rater_id=rater_id)
    found = _first_open(mine)
    if found is None:
        return None
    active = [a for a in mine if a.status != "released"]
    return found, sum(a.status == "done" for a in active), len(active)


def _allocate(
    session: DbSession, *, study_id: int, rater_id: int, config: StudyConfig, now: datetime
) -> Assignment | None:
    lock_study(session, study_id=study_id)
    mine = rater_assignments(session, study_id=study_id, rater_id=rater_id)
    if mine:  # the same rater arrived twice at once; the other request made the list
        return _first_open(mine)
    if config.timeout_minutes:
        release_inactive(
            session, study_id=study_id, cutoff=now - timedelta(minutes=config.timeout_minutes)
        )
    groups, gold = item_groups(config, study_item_facts(session, study_id=study_id))
    plan = plan_rater(
        config=config,
        groups=groups,
        gold_ids=gold,
        counts=active_counts(session, study_id=study_id),
        arrival_index=arrived_raters(session, study_id=study_id),
        rater_id=rater_id,
    )
    if not plan:
        return None
    rows = [
        Assignment(
            study_id=study_id,
            rater_id=rater_id,
            item_id=p.item_id,
            condition=p.condition,
            position=position,
            is_gold=p.is_gold,
            status="assigned",
            assigned_at=now,
        )
        for position, p in enumerate(plan)
    ]
    add_assignments(session, assignments=rows)
    return rows[0]


def done_and_total(session: DbSession, *, study_id: int, rater_id: int) -> tuple[int, int]:
    """(done, total) for the rater, released assignments left out, counted in SQL; before their
    first arrival, total is the planned list length."""
    done, total = rater_progress(session, study_id=study_id, rater_id=rater_id)
    if total == 0:
        config = load_study_config(get_study_by_id(session, study_id=study_id).config)
        return 0, config.per_rater_total
    return done, total


def release_abandoned(session: DbSession, *, study_id: int, older_than: datetime | timedelta) -> int:
    """Release the unfinished assignments of raters inactive since ``older_than``.

    ``older_than`` is a cutoff time, or an age (timedelta) counted back from now. Returns how many
    assignments were released.
    """
    cutoff = utc_now() - older_than if isinstance(older_than, timedelta) else older_than
    return release_inactive(session, study_id=study_id, cutoff=cutoff)
