"""The unit of work on both backends: commit on a clean exit, rollback on an error, a return inside
the block commits first, read sessions refuse writes, and a savepoint never ends the unit early."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from tests.helpers.query_world import make_query_world
from trustlab.db.engine import ReadOnlyUnit, UnitRolledBack, make_engine, read_session, unit_of_work
from trustlab.db.queries.datasets import find_dataset, get_or_create_dataset
from trustlab.db.queries.explanations import add_explanation, get_explanation
from trustlab.db.schema import Explanation, Judgement


def _count_on_fresh_connection(settings, model) -> int:
    """Rows another process would see: a separate engine, not the pooled one."""
    engine = make_engine(settings.database_url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(model)).scalar_one())
    finally:
        engine.dispose()


def test_clean_exit_commits(settings):
    with unit_of_work(settings) as s:
        get_or_create_dataset(s, name="kept")
    with read_session(settings) as s:
        assert find_dataset(s, name="kept") is not None


def test_an_error_rolls_everything_back(settings):
    with pytest.raises(RuntimeError, match="boom"), unit_of_work(settings) as s:
        get_or_create_dataset(s, name="lost")
        raise RuntimeError("boom")
    with read_session(settings) as s:
        assert find_dataset(s, name="lost") is None


def test_a_return_inside_the_block_commits_before_the_caller_sees_it(settings):
    world = make_query_world(settings)

    def acknowledge() -> int:
        with unit_of_work(settings) as s:
            row = add_explanation(s, explanation=Explanation(
                prediction_id=world.prediction_ids[0], method="gradcam", params_key="k"))
            return row.id

    explanation_id = acknowledge()
    assert explanation_id is not None
    assert _count_on_fresh_connection(settings, Explanation) == 1


def test_a_caught_failed_flush_is_an_error_not_a_silent_rollback(settings):
    world = make_query_world(settings)
    get_or_create_dataset_then_fail = pytest.raises(UnitRolledBack, match="nothing was stored")
    with get_or_create_dataset_then_fail, unit_of_work(settings) as s:
        get_or_create_dataset(s, name="written before the failure")
        s.add(Judgement(assignment_id=world.assignment_ids[0], answers={}, idempotency_key="a"))
        s.add(Judgement(assignment_id=world.assignment_ids[0], answers={}, idempotency_key="a"))
        with pytest.raises(Exception, match="(?i)unique"):
            s.flush()
    assert _count_on_fresh_connection(settings, Judgement) == 0
    with read_session(settings) as s:
        assert find_dataset(s, name="written before the failure") is None


def test_read_session_refuses_writes(settings):
    with pytest.raises(ReadOnlyUnit), read_session(settings) as s:
        get_or_create_dataset(s, name="nope")
    with read_session(settings) as s:
        assert find_dataset(s, name="nope") is None


def test_a_savepoint_as_the_first_write_does_not_commit_on_its_own(settings):
    """SQLite's driver starts no transaction before a SAVEPOINT; the savepoint helper does, so an
    error later in the unit still undoes the savepoint's insert."""
    world = make_query_world(settings)
    with pytest.raises(RuntimeError, match="later"), unit_of_work(settings) as s:
        add_explanation(s, explanation=Explanation(
            prediction_id=world.prediction_ids[0], method="lime", params_key="k"))
        raise RuntimeError("later")
    with read_session(settings) as s:
        assert get_explanation(s, prediction_id=world.prediction_ids[0], method="lime") is None
    assert _count_on_fresh_connection(settings, Explanation) == 0


def test_retry_on_race_runs_the_work_again_from_fresh_state(settings):
    from sqlalchemy.exc import IntegrityError

    from trustlab.db.engine import retry_on_race

    tries: list[int] = []

    def attempt() -> str:
        get_or_create_dataset(s, name=f"try{len(tries)}")
        tries.append(1)
        if len(tries) < 3:
            raise IntegrityError("INSERT", {}, Exception("lost the race"))
        return "won"

    with unit_of_work(settings) as s:
        assert retry_on_race(s, attempt, attempts=5) == "won"
    with read_session(settings) as s:
        # The failed attempts' writes were rolled back; the last one's committed with the unit.
        assert [find_dataset(s, name=f"try{n}") is not None for n in range(3)] == [False, False, True]

    tries.clear()
    with pytest.raises(IntegrityError), unit_of_work(settings) as s:
        retry_on_race(s, lambda: _always_lose(tries), attempts=2)
    assert len(tries) == 2


def _always_lose(tries: list[int]) -> None:
    from sqlalchemy.exc import IntegrityError

    tries.append(1)
    raise IntegrityError("INSERT", {}, Exception("lost again"))
