"""Counterbalanced assignment as raters arrive: Latin-square balance, model errors per condition,
Williams orders, gold, release, races."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from tests.helpers.study_builders import complete, make_raters, make_study
from trustlab.db.engine import unit_of_work
from trustlab.db.queries.studies import study_items
from trustlab.db.schema import Assignment
from trustlab.studies.design.assign import StudyNotOpen, done_and_total, next_assignment, release_abandoned
from trustlab.studies.design.create import close_study
from trustlab.studies.design.orders import williams_rows


def arrive(settings, study_id, rater_ids):
    """Each rater arrives in turn; returns all assignments afterwards."""
    for rater_id in rater_ids:
        with unit_of_work(settings) as s:
            assert next_assignment(s, study_id=study_id, rater_id=rater_id) is not None
    with unit_of_work(settings) as s:
        return list(s.scalars(select(Assignment).where(Assignment.study_id == study_id)))


def assert_balanced(rows, conditions, per_rater, per_item):
    by_rater = Counter((a.rater_id, a.condition) for a in rows if not a.is_gold)
    by_item = Counter((a.item_id, a.condition) for a in rows if not a.is_gold)
    for rater_id in {a.rater_id for a in rows}:
        assert [by_rater[(rater_id, c)] for c in conditions] == [per_rater] * len(conditions)
    for item_id in {a.item_id for a in rows if not a.is_gold}:
        assert [by_item[(item_id, c)] for c in conditions] == [per_item] * len(conditions)


@pytest.mark.parametrize("seed", [0, 1, 2, 7])
def test_within_design_is_a_balanced_latin_square(sqlite_settings, seed):
    conditions = ["none", "gradcam", "twin"]
    study = make_study(
        sqlite_settings, seed=seed, conditions=conditions, raters_per_item=3, items_per_rater=6
    )
    raters = make_raters(sqlite_settings, study_id=study.id, n=7)
    rows = arrive(sqlite_settings, study.id, raters[:6])
    # 12 items x 3 raters = 6 raters x 6 items: each rater 2 per condition, each item 1 per condition.
    assert len(rows) == 36
    assert_balanced(rows, conditions, per_rater=2, per_item=1)
    assert len({(a.rater_id, a.item_id) for a in rows}) == 36
    with unit_of_work(sqlite_settings) as s:  # the study is full: the 7th rater gets nothing
        assert next_assignment(s, study_id=study.id, rater_id=raters[6]) is None


@pytest.mark.parametrize("seed", [0, 3])
def test_within_design_two_conditions_more_raters(sqlite_settings, seed):
    conditions = ["none", "lime"]
    study = make_study(
        sqlite_settings, seed=seed, conditions=conditions, raters_per_item=4, items_per_rater=4
    )
    rows = arrive(sqlite_settings, study.id, make_raters(sqlite_settings, study_id=study.id, n=12))
    assert_balanced(rows, conditions, per_rater=2, per_item=2)
    assert Counter(a.item_id for a in rows) == {item: 4 for item in {a.item_id for a in rows}}


@pytest.mark.parametrize("seed", [0, 5])
def test_between_design_gives_each_rater_one_condition(sqlite_settings, seed):
    conditions = ["none", "gradcam", "twin"]
    study = make_study(
        sqlite_settings,
        seed=seed,
        design="between",
        conditions=conditions,
        raters_per_item=3,
        items_per_rater=6,
    )
    raters = make_raters(sqlite_settings, study_id=study.id, n=6)
    rows = arrive(sqlite_settings, study.id, raters)
    for k, rater_id in enumerate(raters):
        assert {a.condition for a in rows if a.rater_id == rater_id} == {conditions[k % 3]}
    by_item = Counter((a.item_id, a.condition) for a in rows)
    assert set(by_item.values()) == {1} and len(by_item) == 36


def test_order_is_seeded_and_served_by_position(sqlite_settings):
    study = make_study(sqlite_settings, gold={"n": 2, "max_failures": 1}, items_per_rater=6)
    [rater] = make_raters(sqlite_settings, study_id=study.id, n=1)
    with unit_of_work(sqlite_settings) as s:
        first = next_assignment(s, study_id=study.id, rater_id=rater)
        assert first.position == 0
        assert next_assignment(s, study_id=study.id, rater_id=rater).id == first.id  # same until answered
        assert done_and_total(s, study_id=study.id, rater_id=rater) == (0, 8)
        mine = list(
            s.scalars(select(Assignment).where(Assignment.rater_id == rater).order_by(Assignment.position))
        )
    assert [a.position for a in mine] == list(range(8))
    gold_positions = [a.position for a in mine if a.is_gold]
    assert len(gold_positions) == 2 and gold_positions[0] < 4 <= gold_positions[1]  # one per half
    served = []
    for _ in range(8):
        with unit_of_work(sqlite_settings) as s:
            assignment = next_assignment(s, study_id=study.id, rater_id=rater)
        served.append(assignment.position)
        complete(sqlite_settings, assignment.id, {"model_correct": True, "true_label": "disc", "trust": 4})
    assert served == list(range(8))
    with unit_of_work(sqlite_settings) as s:
        assert next_assignment(s, study_id=study.id, rater_id=rater) is None
        assert done_and_total(s, study_id=study.id, rater_id=rater) == (8, 8)


def test_same_seed_same_plan(tmp_path):
    from trustlab.config import load_settings
    from trustlab.db.engine import dispose_engines

    plans = []
    for run in range(2):
        settings = load_settings(home=tmp_path / f"h{run}", db_url="")
        study = make_study(settings, seed=4)
        raters = make_raters(settings, study_id=study.id, n=3)
        rows = arrive(settings, study.id, raters)
        order = {r: k for k, r in enumerate(raters)}
        plans.append(sorted((order[a.rater_id], a.position, a.item_id, a.condition) for a in rows))
        dispose_engines()
    assert plans[0] == plans[1]


def test_closed_or_draft_study_assigns_nothing(sqlite_settings):
    study = make_study(sqlite_settings, open_it=False)
    [rater] = make_raters(sqlite_settings, study_id=study.id, n=1)
    with unit_of_work(sqlite_settings) as s, pytest.raises(StudyNotOpen, match="study open"):
        next_assignment(s, study_id=study.id, rater_id=rater)
    close_study(sqlite_settings, study.name)
    with unit_of_work(sqlite_settings) as s, pytest.raises(StudyNotOpen, match="closed"):
        next_assignment(s, study_id=study.id, rater_id=rater)


def test_abandoned_items_are_released_and_taken_by_others(settings):
    study = make_study(
        settings, raters_per_item=1, items_per_rater=6, conditions=["none", "twin"], timeout_minutes=None
    )
    a, b, c = make_raters(settings, study_id=study.id, n=3)
    long_ago = datetime.now(UTC) - timedelta(hours=3)
    with unit_of_work(settings) as s:
        first = next_assignment(s, study_id=study.id, rater_id=a, now=long_ago)
    complete(settings, first.id, {"model_correct": True, "true_label": "disc", "trust": 4}, when=long_ago)
    with unit_of_work(settings) as s:
        next_assignment(s, study_id=study.id, rater_id=b)  # takes the other 6 items
        assert release_abandoned(s, study_id=study.id, older_than=timedelta(hours=1)) == 5
        assert done_and_total(s, study_id=study.id, rater_id=a) == (1, 1)
        next_assignment(s, study_id=study.id, rater_id=c)  # takes a's 5 released items
        rows = list(s.scalars(select(Assignment).where(Assignment.study_id == study.id)))
    active = Counter(x.item_id for x in rows if x.status != "released")
    assert len(active) == 12 and set(active.values()) == {1}  # no item over raters_per_item
    with unit_of_work(settings) as s:  # a comes back: nothing left for them, so they are finished
        assert next_assignment(s, study_id=study.id, rater_id=a) is None


def test_returning_rater_gets_released_items_back(settings):
    study = make_study(settings, timeout_minutes=30)
    [a] = make_raters(settings, study_id=study.id, n=1)
    with unit_of_work(settings) as s:
        next_assignment(s, study_id=study.id, rater_id=a)
        assert (
            release_abandoned(s, study_id=study.id, older_than=datetime.now(UTC) + timedelta(minutes=1)) == 6
        )
        again = next_assignment(s, study_id=study.id, rater_id=a)
        assert again is not None and again.position == 0 and again.status == "assigned"
        assert done_and_total(s, study_id=study.id, rater_id=a) == (0, 6)


def test_concurrent_arrivals_never_over_assign(settings):
    # 12 items x 2 raters per item, 6 per rater: room for exactly 4 raters; 8 arrive at once.
    study = make_study(settings, raters_per_item=2, items_per_rater=6, conditions=["none", "gradcam"])
    raters = make_raters(settings, study_id=study.id, n=8)
    barrier = threading.Barrier(len(raters))
    results: dict[int, object] = {}
    errors: list[BaseException] = []

    def arrive_one(rater_id):
        try:
            barrier.wait()
            with unit_of_work(settings) as s:
                results[rater_id] = next_assignment(s, study_id=study.id, rater_id=rater_id)
        except BaseException as exc:  # noqa: BLE001 - surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=arrive_one, args=(r,)) for r in raters]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    with unit_of_work(settings) as s:
        rows = list(s.scalars(select(Assignment).where(Assignment.study_id == study.id)))
    per_item = Counter(a.item_id for a in rows)
    assert max(per_item.values()) == 2 and len(per_item) == 12
    assert sum(r is not None for r in results.values()) == 4
    assert_balanced(rows, ["none", "gradcam"], per_rater=3, per_item=1)


def test_timeout_releases_automatically_when_a_rater_arrives(settings):
    study = make_study(
        settings, raters_per_item=1, items_per_rater=12, conditions=["none"], timeout_minutes=30
    )
    a, b, c = make_raters(settings, study_id=study.id, n=3)
    with unit_of_work(settings) as s:
        next_assignment(s, study_id=study.id, rater_id=a, now=datetime.now(UTC) - timedelta(hours=1))
        next_assignment(s, study_id=study.id, rater_id=b)
        assert next_assignment(s, study_id=study.id, rater_id=c) is None  # a's items went to b
        rows = list(s.scalars(select(Assignment).where(Assignment.study_id == study.id)))
    assert Counter(x.status for x in rows) == {"released": 12, "assigned": 12}


def model_errors_by(rows, correct, key):
    return Counter(key(a) for a in rows if not a.is_gold and not correct[a.item_id])


@pytest.mark.parametrize("items_per_rater", [30, 40])
def test_every_condition_gets_the_same_share_of_model_errors(settings, items_per_rater):
    # The README's study (5 conditions, 60 items, 30% errors, 5 raters per item); 40 per rater cannot
    # balance the raters' workload but must still balance the model errors.
    conditions = ["none", "gradcam", "lime", "twin", "gradcam+twin"]
    study = make_study(
        settings,
        per_class={"train": 1, "test": 30},
        items={"split": "test", "n": 60, "model_errors": 0.3},
        conditions=conditions,
        raters_per_item=5,
        items_per_rater=items_per_rater,
        gold={"n": 2, "max_failures": 1},
        seed=3,
    )
    raters = make_raters(settings, study_id=study.id, n=12)
    for rater_id in raters:
        with unit_of_work(settings) as s:
            next_assignment(s, study_id=study.id, rater_id=rater_id)
    with unit_of_work(settings) as s:
        rows = list(s.scalars(select(Assignment).where(Assignment.study_id == study.id)))
        correct = {si.item_id: si.model_correct for si in study_items(s, study_id=study.id)}
    regular = [a for a in rows if not a.is_gold]
    assert len(regular) == 300 and sum(not correct[i] for i in {a.item_id for a in regular}) == 18
    overall = model_errors_by(rows, correct, lambda a: a.condition)
    assert max(overall[c] for c in conditions) - min(overall[c] for c in conditions) <= 1
    by_item = Counter((a.item_id, a.condition) for a in regular)
    assert all(by_item[(i, c)] == 1 for i in {a.item_id for a in regular} for c in conditions)
    for rater_id in {a.rater_id for a in regular}:
        mine = [a for a in regular if a.rater_id == rater_id]
        per = Counter(a.condition for a in mine)
        errors = model_errors_by(mine, correct, lambda a: a.condition)
        assert max(per.values()) == min(per[c] for c in conditions)
        assert max(errors[c] for c in conditions) - min(errors[c] for c in conditions) <= 1


def test_condition_orders_follow_williams_rows(sqlite_settings):
    # 4 conditions (4 Williams rows), 16 items, 4 raters per item, 8 per rater: 8 raters, two full sets.
    conditions = ["none", "gradcam", "lime", "twin"]
    study = make_study(
        sqlite_settings,
        per_class={"train": 1, "test": 6},
        items={"split": "test", "n": 16, "model_errors": 0.25},
        conditions=conditions,
        raters_per_item=4,
        items_per_rater=8,
        gold={"n": 2, "max_failures": 1},
        allow_unbalanced=False,
    )
    raters = make_raters(sqlite_settings, study_id=study.id, n=8)
    rows = arrive(sqlite_settings, study.id, raters)
    rows_of = williams_rows(4)
    sequences = []
    for k, rater_id in enumerate(raters):
        mine = sorted((a for a in rows if a.rater_id == rater_id and not a.is_gold), key=lambda a: a.position)
        sequence = [conditions.index(a.condition) for a in mine]
        assert sequence == rows_of[k % 4] * 2  # the rater's row, repeated through the list
        sequences.append(sequence)
    for position in range(8):  # each condition at each position equally often
        assert Counter(seq[position] for seq in sequences) == {c: 2 for c in range(4)}
    pairs = Counter((a, b) for seq in sequences for a, b in zip(seq[:3], seq[1:4], strict=True))
    assert set(pairs.values()) == {2} and len(pairs) == 12  # each ordered pair follows equally often
