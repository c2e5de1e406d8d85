"""SQLite's durability and transaction settings on every new connection."""

from __future__ import annotations

import sqlite3

import pytest

from trustlab.db.engine import get_engine, make_engine, read_session, unit_of_work

SYNCHRONOUS = {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}


def test_a_new_connection_syncs_every_commit(sqlite_settings):
    """synchronous=FULL (WAL kept): an acknowledged answer survives a power cut."""
    engine = get_engine(sqlite_settings)
    with engine.connect() as conn:
        assert SYNCHRONOUS[conn.exec_driver_sql("PRAGMA synchronous").scalar()] == "FULL"
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    with unit_of_work(sqlite_settings) as s, read_session(sqlite_settings) as r:
        for session in (s, r):
            pragma = session.connection().exec_driver_sql("PRAGMA synchronous").scalar()
            assert SYNCHRONOUS[pragma] == "FULL"


def test_the_url_may_trade_durability_for_speed(sqlite_settings):
    sqlite_settings.ensure_dirs()
    engine = make_engine(sqlite_settings.database_url + "?synchronous=normal")
    with engine.connect() as conn:
        assert SYNCHRONOUS[conn.exec_driver_sql("PRAGMA synchronous").scalar()] == "NORMAL"
    engine.dispose()
    with pytest.raises(ValueError, match="synchronous='SOMETIMES'"):
        make_engine(sqlite_settings.database_url + "?synchronous=sometimes")


def test_units_of_work_take_the_write_lock_first(sqlite_settings):
    """A unit that writes begins with BEGIN IMMEDIATE (its reads cannot go stale before its writes);
    a read session with a plain BEGIN, so it never waits for a writer."""
    engine = get_engine(sqlite_settings)
    other = sqlite3.connect(engine.url.database, timeout=0, isolation_level=None)
    with unit_of_work(engine) as s:
        s.connection()
        with pytest.raises(sqlite3.OperationalError, match="database is locked"):
            other.execute("BEGIN IMMEDIATE")
        with read_session(engine) as r:
            assert r.connection().exec_driver_sql("SELECT count(*) FROM alembic_version").scalar() == 1
    other.execute("BEGIN IMMEDIATE")  # the unit has ended: the lock is free
    other.execute("ROLLBACK")
    other.close()
