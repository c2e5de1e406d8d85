"""Each migration upgrades a database that holds data, on both backends."""

from __future__ import annotations

import pytest
from alembic import command
from sqlalchemy import text

from tests.helpers.migrations import ROWS_AT_0001, insert_row, seeded_at, upgrade_to_revision
from trustlab.db.engine import make_engine
from trustlab.db.migrate import alembic_config, current_revision, upgrade_to_head


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
            insert_row(connection, table, row)
        insert_row(connection, "labels", {"id": 3, "dataset_id": 1, "name": "cow", "index": 2})
        insert_row(connection, "items", {**dict(ROWS_AT_0001)["items"], "id": 2, "path": "b.png",
                                         "source_path": "/b.png", "sha256": "b" * 64, "current_label": "cow"})
        for rid, old, new, when in ((1, "cat", "dog", "2000-01-01 00:00:00+00:00"),
                                    (2, "dog", "cow", "2999-01-01 00:00:00+00:00")):
            connection.execute(text(
                "INSERT INTO label_revisions (id, item_id, old_label, new_label, source, evidence, actor,"
                " created_at) VALUES (:id, 2, :old, :new, 'curator', '{}', 'cur', :when)"
            ), {"id": rid, "old": old, "new": new, "when": when})
        for n in (1, 2):
            insert_row(connection, "study_items", {"id": n, "study_id": 1, "item_id": n, "is_gold": False})
    upgrade_to_revision(engine, "0002")
    assert current_revision(engine) == "0002"
    with engine.connect() as connection:
        query = "SELECT item_id, label, label_revision_id FROM study_items ORDER BY item_id"
        rows = connection.execute(text(query))
        assert [tuple(r) for r in rows] == [(1, "cat", None), (2, "dog", 1)]
    engine.dispose()


def test_0003_records_studies_closed_before_it_as_unblinded(settings):
    """A study closed before 0003 had its outcomes open: it gets a `close` record, so reopening it does
    not blind it again; an open study stays blinded (no record); the new table takes appends."""
    engine = seeded_at(settings, "0002")
    with engine.begin() as connection:
        insert_row(connection, "studies", {"id": 2, "name": "done", "dataset_id": 1, "model_version_id": 1,
                                           "config": "{}", "status": "closed"})
    upgrade_to_revision(engine, "0003")
    assert current_revision(engine) == "0003"
    with engine.begin() as connection:
        rows = connection.execute(text("SELECT study_id, source, actor, reason FROM study_unblindings")).all()
        assert [tuple(r) for r in rows] == [
            (2, "close", "migration 0003", "closed before unblinding was recorded")
        ]
        insert_row(connection, "study_unblindings", {"study_id": 1, "source": "unblind", "actor": "rita",
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


def test_0005_relinks_forked_chains_and_scopes_keys_per_assignment(settings):
    """Judgements that raced before 0005 (assignment 1: two first answers, then two answers
    superseding one) are relinked in id order, the newest staying current; assignment 2's clean
    chain is untouched. Afterwards a judgement has one successor and keys repeat across assignments."""
    from sqlalchemy.exc import IntegrityError

    engine = seeded_at(settings, "0003")
    with engine.begin() as connection:
        for rid in (1, 2):  # one assignment each (of the one item)
            insert_row(connection, "raters", {"id": rid, "handle": f"r{rid}", "role": "rater",
                                              "simulated": False})
            connection.execute(text(
                "INSERT INTO assignments (id, study_id, rater_id, item_id, condition, position, is_gold,"
                " status, assigned_at) VALUES (:id, 1, :id, 1, 'none', 0, false, 'done', CURRENT_TIMESTAMP)"
            ), {"id": rid})
        chains = [(1, 1, None), (2, 1, None), (3, 1, 2), (4, 1, 2), (5, 2, None), (6, 2, 5)]
        for jid, aid, supersedes in chains:
            insert_row(connection, "judgements", {"id": jid, "assignment_id": aid, "answers": "{}",
                                                  "idempotency_key": f"k{jid}", "supersedes_id": supersedes})
    upgrade_to_head(engine)
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT id, supersedes_id FROM judgements ORDER BY id")).all()
    assert [tuple(r) for r in rows] == [(1, None), (2, 1), (3, 2), (4, 3), (5, None), (6, 5)]
    with engine.begin() as connection:  # the same key on another assignment is a different request
        insert_row(connection, "judgements", {"id": 7, "assignment_id": 2, "answers": "{}",
                                              "idempotency_key": "k1", "supersedes_id": 6})
    for duplicate in ({"idempotency_key": "k7", "supersedes_id": 1},  # a second successor of 1
                      {"idempotency_key": "k5", "supersedes_id": None}):  # a key again on assignment 2
        with pytest.raises(IntegrityError), engine.begin() as connection:
            insert_row(connection, "judgements", {"id": 8, "assignment_id": 2, "answers": "{}", **duplicate})
    engine.dispose()


def test_0008_adds_imported_methods_beside_existing_explanations(settings):
    """0008 adds the imported_methods table to a database holding data; the data stays, an imported
    method's name is unique, and downgrading drops only the new table."""
    from sqlalchemy.exc import IntegrityError

    engine = seeded_at(settings, "0007")
    upgrade_to_revision(engine, "0008")
    row = {"name": "lab_map", "title": "Our map", "description": "", "params": "{}"}
    with engine.begin() as connection:
        insert_row(connection, "imported_methods", {"id": 1, **row})
    with pytest.raises(IntegrityError), engine.begin() as connection:
        insert_row(connection, "imported_methods", {"id": 2, **row})
    cfg = alembic_config(engine)
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.downgrade(cfg, "0007")
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM studies")).scalar_one() == 1
    engine.dispose()


def test_0009_adds_preregistration_records_and_marks_old_studies_undeclared(settings):
    """0009 adds `studies.analysis_declared` (false for every existing study: their stored configs cannot
    tell a written analysis block from defaults) and the one-per-study preregistration table."""
    from sqlalchemy.exc import IntegrityError

    engine = seeded_at(settings, "0008")
    upgrade_to_revision(engine, "0009")
    with engine.begin() as connection:
        assert connection.execute(text("SELECT analysis_declared FROM studies")).scalars().all() == [False]
        row = {"study_id": 1, "analysis": "{}", "analysis_sha256": "a" * 64, "declared": False,
               "actor": "rita", "judgements_before": 0}
        insert_row(connection, "study_preregistrations", {"id": 1, **row})
    with pytest.raises(IntegrityError), engine.begin() as connection:
        insert_row(connection, "study_preregistrations", {"id": 2, **row})
    cfg = alembic_config(engine)
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.downgrade(cfg, "0008")
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM studies")).scalar_one() == 1
    engine.dispose()
