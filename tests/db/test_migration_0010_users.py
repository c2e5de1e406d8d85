"""Revision 0010 renames the accounts table raters -> users and its column handle -> username, keeping
every account and the other tables' links to it, on both backends; and back down."""

from __future__ import annotations

import pytest
from alembic import command
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError

from tests.helpers.migrations import insert_row, seeded_at, upgrade_to_revision
from trustlab.db.migrate import alembic_config, current_revision


def _accounts(connection, table: str, column: str) -> list[tuple]:
    return [tuple(r) for r in connection.execute(text(f"SELECT id, {column}, role FROM {table} ORDER BY id"))]


def test_0010_renames_raters_to_users_and_keeps_the_rows(settings):
    engine = seeded_at(settings, "0009")
    with engine.begin() as connection:
        insert_row(connection, "raters", {"id": 1, "handle": "r1", "role": "rater", "study_id": 1,
                                          "simulated": False})
        insert_row(connection, "raters", {"id": 2, "handle": "rita", "role": "researcher",
                                          "simulated": False})
        insert_row(connection, "invites", {"id": 1, "study_id": 1, "token_hash": "1" * 64, "rater_id": 1,
                                           "simulated": False})
        insert_row(connection, "auth_tokens", {"id": 1, "token_hash": "a" * 64, "rater_id": 2,
                                               "expires_at": "2999-01-01 00:00:00+00:00"})
    upgrade_to_revision(engine, "0010")
    assert current_revision(engine) == "0010"
    names = set(inspect(engine).get_table_names())
    assert "users" in names and "raters" not in names
    with engine.begin() as connection:
        assert _accounts(connection, "users", "username") == [(1, "r1", "rater"), (2, "rita", "researcher")]
        joined = "SELECT users.username FROM auth_tokens JOIN users ON users.id = auth_tokens.rater_id"
        assert connection.execute(text(joined)).scalar_one() == "rita"
        insert_row(connection, "users", {"id": 3, "username": "carl", "role": "curator", "simulated": False})
    with pytest.raises(IntegrityError), engine.begin() as connection:  # still unique
        insert_row(connection, "users", {"id": 4, "username": "carl", "role": "curator", "simulated": False})
    with pytest.raises(IntegrityError), engine.begin() as connection:  # tokens still point at accounts
        insert_row(connection, "auth_tokens", {"id": 2, "token_hash": "b" * 64, "rater_id": 99,
                                               "expires_at": "2999-01-01 00:00:00+00:00"})
    if engine.dialect.name == "postgresql":
        inspector = inspect(engine)
        assert inspector.get_pk_constraint("users")["name"] == "pk_users"
        assert [c["name"] for c in inspector.get_unique_constraints("users")] == ["uq_users_username"]
        assert {fk["name"] for fk in inspector.get_foreign_keys("auth_tokens")} == {
            "fk_auth_tokens_rater_id_users"}
    cfg = alembic_config(engine)
    with engine.begin() as connection:  # and back down: the old names, the same rows
        cfg.attributes["connection"] = connection
        command.downgrade(cfg, "0009")
    assert current_revision(engine) == "0009"
    with engine.connect() as connection:
        assert _accounts(connection, "raters", "handle") == [
            (1, "r1", "rater"), (2, "rita", "researcher"), (3, "carl", "curator")]
    engine.dispose()
