"""Migration 0006 widens model_versions.arch to 200 characters, keeping the rows it finds."""

from __future__ import annotations

from alembic import command
from sqlalchemy import text

from trustlab.db.engine import make_engine
from trustlab.db.migrate import alembic_config, current_revision
from trustlab.models.zoo import ARCH_MAX_LENGTH

LONG_ARCH = "python:my_lab.models.vision.classifiers_for_the_advert_study:build_classifier_with_pooling"
MODEL_ROW = {"dataset_id": 1, "checkpoint_path": "x", "checkpoint_sha256": "0" * 64, "class_names": "[]",
             "img_size": 32, "labels_source": "original", "training_config": "{}", "history": "[]",
             "metrics": "{}"}


def _upgrade(engine, revision: str) -> None:
    cfg = alembic_config(engine)
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, revision)


def _insert_model(connection, **row) -> None:
    row = {**MODEL_ROW, **row}
    columns = ", ".join(f'"{c}"' for c in row)
    values = ", ".join(f":{c}" for c in row)
    connection.execute(text(f"INSERT INTO model_versions ({columns}, created_at) "
                            f"VALUES ({values}, CURRENT_TIMESTAMP)"), row)


def test_0006_widens_the_arch_column_and_keeps_existing_models(settings):
    assert 50 < len(LONG_ARCH) <= ARCH_MAX_LENGTH
    settings.ensure_dirs()
    engine = make_engine(settings.database_url)
    _upgrade(engine, "0005")
    with engine.begin() as connection:
        connection.execute(text("INSERT INTO datasets (id, name, description, created_at) "
                                "VALUES (1, 'd', '', CURRENT_TIMESTAMP)"))
        _insert_model(connection, id=1, name="old", arch="resnet18")
    _upgrade(engine, "0006")
    assert current_revision(engine) == "0006"
    with engine.begin() as connection:
        _insert_model(connection, id=2, name="mine", arch=LONG_ARCH)
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT name, arch FROM model_versions ORDER BY id"))
        assert [tuple(r) for r in rows] == [("old", "resnet18"), ("mine", LONG_ARCH)]
    engine.dispose()
