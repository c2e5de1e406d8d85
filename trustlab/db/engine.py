"""The one engine module: SQLite (WAL, foreign keys, busy timeout) or PostgreSQL via psycopg 3.

Callers open one short session per unit of work: ``with session_for(settings) as s: ...``.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session

from trustlab.config import Settings

SQLITE_BUSY_TIMEOUT_MS = 5000

_engines: dict[str, Engine] = {}
_lock = threading.Lock()


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def make_engine(url: str, **kwargs) -> Engine:
    """A new engine for ``url`` with trustlab's connection settings."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False}, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
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
            engine = make_engine(url)
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


@contextmanager
def session_for(settings_or_engine: Settings | Engine) -> Iterator[Session]:
    """One short session; commits happen explicitly in the CRUD functions."""
    engine = (
        settings_or_engine
        if isinstance(settings_or_engine, Engine)
        else get_engine(settings_or_engine)
    )
    with Session(engine, expire_on_commit=False) as session:
        yield session
