"""Each migration upgrades a database that holds data, on both backends."""

from __future__ import annotations

from alembic import command
from sqlalchemy import text

from trustlab.db.engine import make_engine
from trustlab.db.migrate import alembic_config, current_revision

# One row per table, enough for a study item (revision 0001's NOT NULL columns).
ROWS_AT_0001 = [
    ("datasets", {"id": 1, "name": "d", "description": ""}),
    ("labels", {"id": 1, "dataset_id": 1, "name": "cat", "index": 0}),
    ("labels", {"id": 2, "dataset_id": 1, "name": "dog", "index": 1}),
    ("items", {"id": 1, "dataset_id": 1, "path": "a.png", "source_path": "/a.png", "sha256": "a" * 64,
               "width": 4, "height": 4, "split": "test", "original_label": "cat", "current_label": "dog"}),
    ("model_versions", {"id": 1, "name": "m", "dataset_id": 1, "arch": "simple_cnn", "checkpoint_path": "x",
                        "checkpoint_sha256": "0" * 64, "class_names": "[]", "img_size": 32,
                        "labels_source": "current", "training_config": "{}", "history": "[]",
                        "metrics": "{}"}),
    ("studies", {"id": 1, "name": "s", "dataset_id": 1, "model_version_id": 1, "config": "{}",
                 "status": "open"}),
]


def _insert(connection, table: str, row: dict) -> None:
    stamped = table not in ("study_items", "labels")
    columns = [f'"{c}"' for c in row] + (["created_at"] if stamped else [])
    values = [f":{c}" for c in row] + (["CURRENT_TIMESTAMP"] if stamped else [])
    connection.execute(text(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join(values)})"), row)


def test_0002_freezes_the_labels_of_existing_studies(settings):
    """Each study item gets the label its item had when the study was created: the newest revision by
    then (item 2: cat -> dog before the study, dog -> cow after it), else the original label (item 1)."""
    settings.ensure_dirs()
    engine = make_engine(settings.database_url)
    cfg = alembic_config(engine)
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, "0001")
    with engine.begin() as connection:
        for table, row in ROWS_AT_0001:
            _insert(connection, table, row)
        _insert(connection, "labels", {"id": 3, "dataset_id": 1, "name": "cow", "index": 2})
        _insert(connection, "items", {**dict(ROWS_AT_0001)["items"], "id": 2, "path": "b.png",
                                      "source_path": "/b.png", "sha256": "b" * 64, "current_label": "cow"})
        for rid, old, new, when in ((1, "cat", "dog", "2000-01-01 00:00:00+00:00"),
                                    (2, "dog", "cow", "2999-01-01 00:00:00+00:00")):
            connection.execute(text(
                "INSERT INTO label_revisions (id, item_id, old_label, new_label, source, evidence, actor,"
                " created_at) VALUES (:id, 2, :old, :new, 'curator', '{}', 'cur', :when)"
            ), {"id": rid, "old": old, "new": new, "when": when})
        for n in (1, 2):
            _insert(connection, "study_items", {"id": n, "study_id": 1, "item_id": n, "is_gold": False})
    _upgrade(engine, "0002")
    assert current_revision(engine) == "0002"
    with engine.connect() as connection:
        query = "SELECT item_id, label, label_revision_id FROM study_items ORDER BY item_id"
        rows = connection.execute(text(query))
        assert [tuple(r) for r in rows] == [(1, "cat", None), (2, "dog", 1)]
    engine.dispose()


def _upgrade(engine, revision: str) -> None:
    cfg = alembic_config(engine)
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, revision)


def test_0003_records_studies_closed_before_it_as_unblinded(settings):
    """A study closed before 0003 had its outcomes open: it gets a `close` record, so reopening it does
    not blind it again; an open study stays blinded (no record); the new table takes appends."""
    settings.ensure_dirs()
    engine = make_engine(settings.database_url)
    _upgrade(engine, "0002")
    with engine.begin() as connection:
        for table, row in ROWS_AT_0001:
            _insert(connection, table, row)
        _insert(connection, "studies", {"id": 2, "name": "done", "dataset_id": 1, "model_version_id": 1,
                                        "config": "{}", "status": "closed"})
    _upgrade(engine, "0003")
    assert current_revision(engine) == "0003"
    with engine.begin() as connection:
        rows = connection.execute(text("SELECT study_id, source, actor, reason FROM study_unblindings")).all()
        assert [tuple(r) for r in rows] == [
            (2, "close", "migration 0003", "closed before unblinding was recorded")
        ]
        _insert(connection, "study_unblindings", {"study_id": 1, "source": "unblind", "actor": "rita",
                                                  "reason": "DSMB"})
        assert connection.execute(text("SELECT count(*) FROM study_unblindings")).scalar_one() == 2
    cfg = alembic_config(engine)
    with engine.begin() as connection:  # and back down: the table goes, the studies stay
        cfg.attributes["connection"] = connection
        command.downgrade(cfg, "0002")
    assert current_revision(engine) == "0002"
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM studies")).scalar_one() == 2
    engine.dispose()
