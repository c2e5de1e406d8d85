"""Counterbalanced assignment, made as raters arrive (issues 6 and 12).

When a rater first asks for work, their whole list is made in one locked transaction:

* items: the study's regular items are split into C groups (C = number of conditions) stratified by
  model correctness (``orders.stratified_groups``: error counts differ by at most one between groups,
  and each group is a cycle with its errors spread evenly). Rater k (k = arrival index) shows group g
  under condition (g + k) mod C: a Latin square over groups x raters. For each condition the rater takes
  the items of its group that have had that condition least often, next along the group's cycle, never
  an item that already has ``raters_per_item`` active ratings. So each rater's share of model errors is
  the same in every condition (to one item), and when the numbers balance (``balance.problems`` is
  empty) every rater sees every condition equally often and every item gets every condition equally
  often; otherwise the counts are as equal as the numbers allow.
* between design: rater k sees only condition k mod C, on the next items of one stratified cycle that
  have had it least often.
* order: conditions follow row k of a Williams design (``orders.williams_rows``), repeated through the
  list: over a full set of rows each condition is at each position equally often and follows every
  other condition equally often within each run of C. Items within a condition come in a seeded order
  (study seed, rater id); gold items go one into each of gold.n equal segments, at a seeded position.

Unfinished assignments of a rater inactive for ``timeout_minutes`` are released (``release_abandoned``)
so that others can take the items; a returning rater gets released items back while they still have room.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np

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
from trustlab.db.schema import Assignment, utcnow
from trustlab.studies.config import StudyConfig, load_study_config
from trustlab.studies.orders import stratified_groups, williams_rows

# Attempts at making a rater's list when a concurrent writer wins a race (unique constraint, or
# SQLite reporting a busy database past its timeout).
MAX_ATTEMPTS = 5


class StudyNotOpen(RuntimeError):
    """The study is a draft or closed: it gives out no assignments (open it with `trustlab study open`)."""


@dataclass(frozen=True)
class PlannedAssignment:
    item_id: int
    condition: str
    is_gold: bool


def _quotas(conditions: Sequence[str], n: int, k: int) -> dict[str, int]:
    """n items split over conditions as equally as possible; the extra ones rotate with the rater."""
    size = len(conditions)
    base, extra = divmod(n, size)
    return {conditions[(k + j) % size]: base + (1 if j < extra else 0) for j in range(size)}


def plan_rater(
    *,
    config: StudyConfig,
    groups: Sequence[Sequence[int]],
    gold_ids: Sequence[int],
    counts: dict[tuple[int, str], int],
    arrival_index: int,
    rater_id: int,
) -> list[PlannedAssignment]:
    """One rater's ordered list (pure: the database state comes in as ``counts``).

    Parameters
    ----------
    groups: the regular item ids as ``item_groups`` makes them (C cycles within, one between).
    gold_ids: the gold item ids.
    counts: {(item_id, condition): active non-gold assignments so far}.
    arrival_index: k, how many raters arrived before this one.
    """
    conditions = list(config.conditions)
    n_cond = len(conditions)
    k = arrival_index
    totals: Counter[int] = Counter()
    for (item_id, _), count in counts.items():
        totals[item_id] += count
    cycle_position = {item_id: p for group in groups for p, item_id in enumerate(group)}
    group_of = {item_id: g for g, group in enumerate(groups) for item_id in group}
    available = [i for group in groups for i in group if totals[i] < config.raters_per_item]
    n_items = min(config.items_per_rater, len(available))

    def key(item_id: int, condition: str) -> tuple[int, int]:
        # Least often under this condition, then next along the cycle: consecutive raters walk each
        # group's cycle, so each takes an even share of its errors.
        return (counts.get((item_id, condition), 0), cycle_position[item_id])

    chosen: dict[int, str] = {}
    if config.design == "between":
        condition = conditions[k % n_cond]
        for item_id in sorted(available, key=lambda i: key(i, condition))[:n_items]:
            chosen[item_id] = condition
    else:
        quotas = _quotas(conditions, n_items, k)
        for c_index, condition in enumerate(conditions):
            wanted_group = (c_index - k) % n_cond
            candidates = [i for i in available if group_of[i] == wanted_group and i not in chosen]
            for item_id in sorted(candidates, key=lambda i: key(i, condition))[: quotas[condition]]:
                chosen[item_id] = condition
                quotas[condition] -= 1
        # A group ran short (items at capacity): fill the rest from any item, least-used condition first.
        for item_id in sorted(
            (i for i in available if i not in chosen), key=lambda i: (totals[i], cycle_position[i])
        ):
            if len(chosen) >= n_items:
                break
            open_conditions = [c for c in conditions if quotas[c] > 0]
            condition = min(open_conditions, key=lambda c: (counts.get((item_id, c), 0), -quotas[c]))
            chosen[item_id] = condition
            quotas[condition] -= 1
    if not chosen:
        return []
    order_rng = np.random.default_rng([config.seed, rater_id])
    regular = _williams_order(config, chosen, k, order_rng)
    return _with_gold(config, regular, gold_ids, k, order_rng)


def _williams_order(
    config: StudyConfig, chosen: dict[int, str], k: int, rng: np.random.Generator
) -> list[PlannedAssignment]:
    """The chosen items in the order of Williams row k (cycled); items of a condition in seeded order."""
    conditions = list(config.conditions)
    queues: dict[str, list[int]] = {c: [] for c in conditions}
    for item_id, condition in chosen.items():
        queues[condition].append(item_id)
    for condition, ids in queues.items():
        queues[condition] = [ids[j] for j in rng.permutation(len(ids))]
    if config.design == "between":
        return [PlannedAssignment(i, c, False) for c in conditions for i in queues[c]]
    rows = williams_rows(len(conditions))
    row = [conditions[j] for j in rows[k % len(rows)]]
    out: list[PlannedAssignment] = []
    step = 0
    while len(out) < len(chosen):
        condition = row[step % len(row)]
        step += 1
        if queues[condition]:
            out.append(PlannedAssignment(queues[condition].pop(0), condition, False))
    return out


def _with_gold(
    config: StudyConfig,
    regular: list[PlannedAssignment],
    gold_ids: Sequence[int],
    k: int,
    rng: np.random.Generator,
) -> list[PlannedAssignment]:
    """Gold items inserted one into each of len(gold_ids) equal segments of the list."""
    conditions = list(config.conditions)
    n_cond = len(conditions)
    gold = [gold_ids[j] for j in rng.permutation(len(gold_ids))]
    total = len(regular) + len(gold)
    gold_positions: dict[int, PlannedAssignment] = {}
    for s, item_id in enumerate(gold):
        lo, hi = s * total // len(gold), (s + 1) * total // len(gold)
        condition = conditions[k % n_cond] if config.design == "between" else conditions[(k + s) % n_cond]
        gold_positions[int(rng.integers(lo, hi))] = PlannedAssignment(item_id, condition, True)
    out: list[PlannedAssignment] = []
    regular_iter = iter(regular)
    for position in range(total):
        out.append(gold_positions[position] if position in gold_positions else next(regular_iter))
    return out


def item_groups(config: StudyConfig, study_items: Sequence[Any]) -> tuple[list[list[int]], list[int]]:
    """(regular item ids as stratified cycles: C groups within, one between; gold item ids sorted);
    ``study_items``: StudyItem rows or the light rows of ``study_item_facts``."""
    regular = [(si.item_id, si.model_correct) for si in study_items if not si.is_gold]
    gold = sorted(si.item_id for si in study_items if si.is_gold)
    n_groups = len(config.conditions) if config.design == "within" else 1
    return stratified_groups(regular, n_groups, seed=config.seed), gold


def _first_open(assignments: Sequence[Assignment]) -> Assignment | None:
    open_ones = [a for a in assignments if a.status == "assigned"]
    return min(open_ones, key=lambda a: (a.position, a.id)) if open_ones else None


def _reactivate(
    session: DbSession, *, study_id: int, config: StudyConfig, mine: Sequence[Assignment], now: datetime
) -> None:
    """Give a returning rater back the released items that still have room."""
    released = [a for a in mine if a.status == "released"]
    if not released:
        return
    counts = active_counts(session, study_id=study_id)
    totals: Counter[int] = Counter()
    for (item_id, _), count in counts.items():
        totals[item_id] += count
    ids = [a.id for a in released if a.is_gold or totals[a.item_id] < config.raters_per_item]
    reactivate_assignments(session, assignment_ids=ids, now=now)
    for assignment in released:
        session.refresh(assignment)


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
    now = as_utc(now or utcnow())
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


def progress(session: DbSession, *, study_id: int, rater_id: int) -> tuple[int, int]:
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
    cutoff = utcnow() - older_than if isinstance(older_than, timedelta) else older_than
    return release_inactive(session, study_id=study_id, cutoff=cutoff)
