"""The schema comes from migrations and its constraints keep the data honest, on both backends."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect, select
from sqlalchemy.exc import IntegrityError

from trustlab.db.engine import get_engine, unit_of_work
from trustlab.db.migrate import current_revision, upgrade_to_head
from trustlab.db.schema import (
    Assignment,
    Base,
    Dataset,
    Item,
    Judgement,
    Label,
    ModelVersion,
    Study,
    User,
)


def _dataset_with_item(s) -> tuple[Dataset, Item]:
    ds = Dataset(name="d")
    s.add(ds)
    s.flush()
    s.add_all([Label(dataset_id=ds.id, name="cat", index=0), Label(dataset_id=ds.id, name="dog", index=1)])
    s.flush()
    item = Item(dataset_id=ds.id, path="a.png", source_path="/x/a.png", sha256="a" * 64, width=4, height=4,
                split="train", original_label="cat", current_label="cat")
    s.add(item)
    s.commit()
    return ds, item


def test_migrations_create_every_table_and_are_idempotent(settings):
    engine = get_engine(settings)
    tables = set(inspect(engine).get_table_names())
    assert set(Base.metadata.tables) <= tables
    assert current_revision(engine) is not None
    upgrade_to_head(engine)  # a second upgrade is a no-op, not an error
    assert set(inspect(engine).get_table_names()) == tables


def test_sqlite_runs_in_wal_with_foreign_keys(sqlite_settings):
    engine = get_engine(sqlite_settings)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 1000


def test_item_sha256_unique_per_dataset(settings):
    with unit_of_work(settings) as s:
        ds, item = _dataset_with_item(s)
        s.add(Item(dataset_id=ds.id, path="b.png", source_path="/x/b.png", sha256=item.sha256, width=4,
                   height=4, split="train", original_label="dog", current_label="dog"))
        with pytest.raises(IntegrityError):
            s.commit()
        s.rollback()  # the unit must not end on the failed transaction


def test_item_label_must_belong_to_dataset(settings):
    with unit_of_work(settings) as s:
        ds, _ = _dataset_with_item(s)
        s.add(Item(dataset_id=ds.id, path="c.png", source_path="/x/c.png", sha256="c" * 64, width=4,
                   height=4, split="train", original_label="horse", current_label="horse"))
        with pytest.raises(IntegrityError):
            s.commit()
        s.rollback()  # the unit must not end on the failed transaction


def test_assignment_unique_and_judgement_idempotency_key_unique(settings):
    with unit_of_work(settings) as s:
        ds, item = _dataset_with_item(s)
        mv = ModelVersion(name="m", dataset_id=ds.id, arch="simple_cnn", checkpoint_path="m.pt",
                          checkpoint_sha256="0" * 64, class_names=["cat", "dog"], img_size=32)
        s.add(mv)
        s.flush()
        study = Study(name="st", dataset_id=ds.id, model_version_id=mv.id, config={})
        rater = User(username="r1")
        s.add_all([study, rater])
        s.flush()
        a = Assignment(study_id=study.id, rater_id=rater.id, item_id=item.id, condition="none", position=0)
        s.add(a)
        s.commit()
        s.add(Judgement(assignment_id=a.id, answers={"trust": 3}, idempotency_key="k1"))
        s.commit()
        s.add(Judgement(assignment_id=a.id, answers={"trust": 4}, idempotency_key="k1"))
        with pytest.raises(IntegrityError):
            s.commit()
        s.rollback()
        s.add(Assignment(study_id=study.id, rater_id=rater.id, item_id=item.id, condition="lime", position=1))
        with pytest.raises(IntegrityError):
            s.commit()
        s.rollback()
        assert s.scalars(select(Judgement)).one().answers == {"trust": 3}
