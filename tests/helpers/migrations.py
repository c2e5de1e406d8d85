"""Seeding and upgrading a database revision by revision, for the migration tests."""

from __future__ import annotations

from alembic import command
from sqlalchemy import text

from trustlab.db.engine import make_engine
from trustlab.db.migrate import alembic_config

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


def insert_row(connection, table: str, row: dict) -> None:
    """Insert ``row`` into ``table`` with raw SQL, stamping ``created_at`` where the table has one."""
    stamped = table not in ("study_items", "labels")
    columns = [f'"{c}"' for c in row] + (["created_at"] if stamped else [])
    values = [f":{c}" for c in row] + (["CURRENT_TIMESTAMP"] if stamped else [])
    connection.execute(text(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join(values)})"), row)


def seeded_at(settings, revision: str):
    """A fresh database upgraded to ``revision`` holding ROWS_AT_0001; returns its engine."""
    settings.ensure_dirs()
    engine = make_engine(settings.database_url)
    upgrade_to_revision(engine, revision)
    with engine.begin() as connection:
        for table, row in ROWS_AT_0001:
            insert_row(connection, table, row)
    return engine


def upgrade_to_revision(engine, revision: str) -> None:
    """Upgrade the database behind ``engine`` to ``revision`` with alembic."""
    cfg = alembic_config(engine)
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, revision)
