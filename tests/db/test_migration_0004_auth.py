"""Revision 0004 (auth) upgrades a database holding accounts, tokens and invites (both backends)."""

from __future__ import annotations

from datetime import UTC, datetime

from alembic import command
from sqlalchemy import text

from tests.helpers.migrations import insert_row, seeded_at, upgrade_to_revision
from trustlab.db.migrate import alembic_config, current_revision
from trustlab.db.queries.times import as_utc


def test_0004_gives_every_token_an_expiry_and_invites_their_simulated_flag(settings):
    engine = seeded_at(settings, "0003")
    with engine.begin() as connection:
        for rid, simulated in ((1, True), (2, False)):
            insert_row(connection, "raters", {"id": rid, "handle": f"r{rid}", "role": "rater", "study_id": 1,
                                              "simulated": simulated})
            insert_row(connection, "invites", {"id": rid, "study_id": 1, "token_hash": f"{rid:064x}",
                                               "rater_id": rid})
        insert_row(connection, "invites", {"id": 3, "study_id": 1, "token_hash": f"{3:064x}"})
        insert_row(connection, "auth_tokens", {"id": 1, "token_hash": "a" * 64, "rater_id": 2})  # no expiry
    before = datetime.now(UTC)
    upgrade_to_revision(engine, "0004")
    assert current_revision(engine) == "0004"
    with engine.begin() as connection:
        flags = connection.execute(text("SELECT id, simulated FROM invites ORDER BY id")).all()
        assert [(i, bool(f)) for i, f in flags] == [(1, True), (2, False), (3, False)]
        expires = connection.execute(text("SELECT expires_at FROM auth_tokens")).scalar_one()
        expires = as_utc(datetime.fromisoformat(expires) if isinstance(expires, str) else expires)
        assert expires > before
        disabled = connection.execute(text("SELECT disabled_at FROM raters")).scalars().all()
        assert disabled == [None, None]
    cfg = alembic_config(engine)
    with engine.begin() as connection:  # and back down: the columns go, the rows stay
        cfg.attributes["connection"] = connection
        command.downgrade(cfg, "0003")
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM invites")).scalar_one() == 3
        assert connection.execute(text("SELECT count(*) FROM auth_tokens")).scalar_one() == 1
    engine.dispose()
