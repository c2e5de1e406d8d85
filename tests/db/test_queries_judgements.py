"""record_judgement on both backends: append-only supersedes chain, idempotency keys (sequential
and racing), and the rule that another rater's assignment is NotFound."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from tests.helpers.query_world import make_query_world
from trustlab.db.engine import read_session, unit_of_work
from trustlab.db.queries.assignments import get_assignment
from trustlab.db.queries.errors import NotFound
from trustlab.db.queries.judgements import Answer, count_judgements, judgement_by_key, record_judgement
from trustlab.db.schema import Judgement

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def _record(settings, world, key, answers, *, now=T0, assignment=0):
    with unit_of_work(settings) as s:
        judgement, created = record_judgement(
            s, assignment_id=world.assignment_ids[assignment], rater_id=world.rater_id,
            answer=Answer(answers, key), now=now)
        return judgement.id, judgement.supersedes_id, created


def test_changed_answers_form_a_supersedes_chain(settings):
    world = make_query_world(settings)
    first = _record(settings, world, "k1", {"trust": 1})
    second = _record(settings, world, "k2", {"trust": 2}, now=T0 + timedelta(minutes=1))
    third = _record(settings, world, "k3", {"trust": 3}, now=T0 + timedelta(minutes=2))
    assert first[1] is None and first[2]
    assert second[1] == first[0] and third[1] == second[0]
    with read_session(settings) as s:
        assert count_judgements(s, study_id=world.study_id) == 3
        assignment = get_assignment(s, assignment_id=world.assignment_ids[0])
        assert assignment.status == "done"
        assert assignment.completed_at.replace(tzinfo=UTC) == T0  # the first answer completed it


def test_the_same_key_again_returns_the_stored_row_and_writes_nothing(settings):
    world = make_query_world(settings)
    stored = _record(settings, world, "same", {"trust": 4})
    again = _record(settings, world, "same", {"trust": 1}, now=T0 + timedelta(minutes=5))
    assert again == (stored[0], None, False)
    with read_session(settings) as s:
        assert count_judgements(s) == 1
        stored = judgement_by_key(s, assignment_id=world.assignment_ids[0], idempotency_key="same")
        assert stored.answers == {"trust": 4}


def test_racing_requests_with_one_key_store_one_row_and_both_get_it(settings):
    world = make_query_world(settings)
    barrier = threading.Barrier(4)
    results, errors = [], []

    def submit():
        try:
            barrier.wait()
            results.append(_record(settings, world, "race", {"trust": 5}))
        except BaseException as exc:  # noqa: BLE001 - surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=submit) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert len({r[0] for r in results}) == 1
    assert sum(r[2] for r in results) == 1
    with read_session(settings) as s:
        assert count_judgements(s) == 1


def test_another_raters_assignment_is_not_found_and_nothing_is_written(settings):
    world = make_query_world(settings)
    with pytest.raises(NotFound, match="not one of your assignments"), unit_of_work(settings) as s:
        record_judgement(s, assignment_id=world.assignment_ids[0], rater_id=world.rater_id + 99,
                         answer=Answer({}, "x"), now=T0)
    with read_session(settings) as s:
        assert count_judgements(s) == 0


def test_concurrent_changed_answers_keep_one_linear_chain(settings):
    """Four raters' worth of racing answer changes (different keys) to one assignment, several rounds:
    every answer is stored, none fails, and the chain never forks (each judgement has at most one
    successor and exactly one has none)."""
    world = make_query_world(settings)
    rounds, writers = 5, 4
    errors = []

    def change(round_no: int, n: int, barrier: threading.Barrier) -> None:
        try:
            barrier.wait()
            _record(settings, world, f"r{round_no}-{n}", {"trust": n + 1})
        except BaseException as exc:  # noqa: BLE001 - surfaced below
            errors.append(exc)

    for round_no in range(rounds):
        barrier = threading.Barrier(writers)
        threads = [threading.Thread(target=change, args=(round_no, n, barrier)) for n in range(writers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert not errors, errors
    with read_session(settings) as s:
        chain = s.execute(select(Judgement.id, Judgement.supersedes_id).order_by(Judgement.id)).all()
    assert len(chain) == rounds * writers
    successors = [supersedes for _, supersedes in chain]
    assert successors == [None] + [jid for jid, _ in chain[:-1]]  # each one supersedes the one before
