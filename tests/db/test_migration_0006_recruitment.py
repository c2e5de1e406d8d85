"""Revision 0006 (recruitment) upgrades a database that holds a study and raters, on both backends,
and its constraints hold: one participant per pid per study, one per rater, one answer per check."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from tests.helpers.migrations import insert_row, seeded_at
from trustlab.db.migrate import current_revision, upgrade_to_head

ANSWER = 'INSERT INTO participant_answers (participant_id, kind, "index", answers, correct, created_at)'


def test_0006_adds_participants_to_a_database_with_data(settings):
    engine = seeded_at(settings, "0005")
    with engine.begin() as connection:
        for rid in (1, 2):
            insert_row(
                connection, "raters", {"id": rid, "handle": f"r{rid}", "role": "rater", "simulated": False}
            )
    upgrade_to_head(engine)
    assert current_revision(engine) is not None
    participant = (
        "INSERT INTO participants (id, study_id, rater_id, pid, platform, params, status,"
        " instructions_opened, started_at, attention_failures, gold_failures) VALUES"
        " (:id, 1, :rater, :pid, 'prolific', '{}', 'started', 0, CURRENT_TIMESTAMP, 0, 0)"
    )
    with engine.begin() as connection:
        connection.execute(text(participant), {"id": 1, "rater": 1, "pid": "P1"})
        connection.execute(
            text(
                ANSWER +
                " VALUES (1, 'attention', 0, '{}', false, CURRENT_TIMESTAMP)"
            )
        )
        connection.execute(
            text(
                "INSERT INTO study_recruitment (study_id, completion_code, screenout_code, created_at)"
                " VALUES (1, 'C0DE', 'S0', CURRENT_TIMESTAMP)"
            )
        )
    for duplicate in ({"id": 2, "rater": 2, "pid": "P1"}, {"id": 3, "rater": 1, "pid": "P2"}):
        with pytest.raises(IntegrityError), engine.begin() as connection:
            connection.execute(text(participant), duplicate)
    with pytest.raises(IntegrityError), engine.begin() as connection:
        connection.execute(
            text(
                ANSWER +
                " VALUES (1, 'attention', 0, '{}', true, CURRENT_TIMESTAMP)"
            )
        )
    engine.dispose()
