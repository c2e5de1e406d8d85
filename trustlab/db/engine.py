"""The one engine module: SQLite (WAL, foreign keys, busy timeout, synchronous=FULL, real
transactions) or PostgreSQL via psycopg 3.

Transactions begin and end here: callers open one short unit of work,
``with unit_of_work(settings) as s: ...``, which commits when the block ends cleanly and rolls back
when it raises; query functions only flush. ``read_session`` is the read-only variant and
``savepoint`` lets an insert inside a unit lose a race without ending the unit, and ``retry_on_race``
runs a unit's work again when a concurrent writer won.

SQLite transactions are real ones (``trustlab.db.sqlite``): a ``unit_of_work`` begins with
``BEGIN IMMEDIATE`` (units that write are serialised whole), ``read_session`` with ``BEGIN``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from trustlab.config import Settings
from trustlab.db.sqlite import sqlite_begin, sqlite_connect, sqlite_synchronous, writer

T = TypeVar("T")

# The session type callers outside db may name in hints, without importing sqlalchemy.
DbSession = Session

# What a write that lost a race raises (a unique constraint, or SQLite still busy after its
# timeout): callers outside db that retry a whole unit catch these instead of sqlalchemy's names.
WRITE_RACE_ERRORS: tuple[type[Exception], ...] = (IntegrityError, OperationalError)


_engines: dict[str, Engine] = {}
_lock = threading.Lock()


def pool_options(settings: Settings) -> dict[str, int]:
    """create_engine's pool size and overflow from the settings (``TRUSTLAB_DB_POOL_SIZE``,
    ``TRUSTLAB_DB_MAX_OVERFLOW``); none for an in-memory SQLite database (one connection per thread)."""
    url = settings.database_url
    if url.startswith("sqlite") and (url in ("sqlite://", "sqlite:///") or ":memory:" in url):
        return {}
    return {"pool_size": settings.db_pool_size, "max_overflow": settings.db_max_overflow}


def make_engine(url: str, **kwargs) -> Engine:
    """A new engine for ``url`` with trustlab's connection settings (``kwargs``: create_engine's,
    e.g. ``pool_options(settings)``)."""
    if url.startswith("sqlite"):
        url, synchronous = sqlite_synchronous(url)
        engine = create_engine(url, connect_args={"check_same_thread": False}, **kwargs)
        event.listen(engine, "connect", sqlite_connect(synchronous))
        event.listen(engine, "begin", sqlite_begin)
    else:
        engine = create_engine(url, pool_pre_ping=True, **kwargs)
    return engine


def get_engine(settings: Settings, *, upgrade: bool = True) -> Engine:
    """The process-wide engine for these settings, migrated to the newest schema on first use."""
    url = settings.database_url
    with _lock:
        engine = _engines.get(url)
        if engine is None:
            if url.startswith("sqlite"):
                settings.ensure_dirs()
            engine = make_engine(url, **pool_options(settings))
            if upgrade:
                from trustlab.db.migrate import upgrade_to_head

                upgrade_to_head(engine)
            _engines[url] = engine
        return engine


def dispose_engines() -> None:
    with _lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()


class UnitRolledBack(RuntimeError):
    """A unit of work ended cleanly after one of its writes failed: it was rolled back, not committed."""


class ReadOnlyUnit(RuntimeError):
    """Something tried to write inside ``read_session``; open ``unit_of_work`` instead."""


def _engine_of(settings_or_engine: Settings | Engine) -> Engine:
    if isinstance(settings_or_engine, Engine):
        return settings_or_engine
    return get_engine(settings_or_engine)


@contextmanager
def unit_of_work(settings_or_engine: Settings | Engine) -> Iterator[DbSession]:
    """One transaction: a new session that commits when the block ends cleanly and rolls back when
    it raises. The only place in trustlab where a transaction ends.

    Query functions only flush, so everything written inside the block becomes durable together,
    and a ``return`` inside the block commits before the function returns. A block that caught a
    failed flush itself (outside a ``savepoint``) cannot commit: it raises ``UnitRolledBack`` instead of
    losing what it wrote silently.
    """
    with Session(writer(_engine_of(settings_or_engine)), expire_on_commit=False) as session:
        try:
            yield session
        except BaseException:
            session.rollback()
            raise
        transaction = session.get_transaction()
        if transaction is not None and not transaction.is_active:
            session.rollback()
            raise UnitRolledBack(
                "a write in this unit of work failed and the error was caught inside it: nothing was "
                "stored; wrap a write that may fail in db.engine.savepoint"
            )
        session.commit()


def _refuse_flush(session, _context, _instances) -> None:
    if session.new or session.dirty or session.deleted:
        raise ReadOnlyUnit("this read-only session has changes to write; use unit_of_work instead")


def _refuse_dml(state) -> None:
    if state.is_insert or state.is_update or state.is_delete:
        raise ReadOnlyUnit("this read-only session ran an INSERT/UPDATE/DELETE; use unit_of_work instead")


@contextmanager
def read_session(settings_or_engine: Settings | Engine) -> Iterator[DbSession]:
    """A session for reads only: writes raise ReadOnlyUnit. Closing it ends its transaction (a
    rollback that leaves the loaded objects readable, detached)."""
    with Session(_engine_of(settings_or_engine), expire_on_commit=False) as session:
        event.listen(session, "before_flush", _refuse_flush)
        event.listen(session, "do_orm_execute", _refuse_dml)
        yield session


@contextmanager
def savepoint(session: DbSession) -> Iterator[None]:
    """A SAVEPOINT inside the caller's unit: an IntegrityError raised in the block undoes only the
    block (the unit goes on), so an insert that lost a race can read the winner's row instead.

    (On SQLite the unit's BEGIN comes from the begin event, so the SAVEPOINT is inside it.)
    """
    with session.begin_nested():
        yield


def retry_on_race(session: DbSession, attempt: Callable[[], T], *, attempts: int) -> T:
    """Run ``attempt()`` inside the caller's unit; when a concurrent writer wins a race
    (``WRITE_RACE_ERRORS``), roll the unit back and run it again from fresh state, at most
    ``attempts`` times (the last failure is raised).

    The rollback discards everything the unit wrote before: call this before the unit's first write.
    """
    for number in range(attempts):
        try:
            return attempt()
        except WRITE_RACE_ERRORS:
            session.rollback()
            if number == attempts - 1:
                raise
    raise ValueError("attempts must be at least 1")
