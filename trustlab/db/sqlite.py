"""SQLite's connection settings and transaction control (used by ``engine`` and ``migrate``).

Python's sqlite3 driver (legacy transaction control) begins a transaction only before
INSERT/UPDATE/DELETE, so a unit's reads and any DDL ran outside a transaction. trustlab takes
transaction control over (SQLAlchemy's pysqlite recipe: the driver's ``isolation_level`` is None and
the ``begin`` event emits BEGIN). A unit that writes begins with ``BEGIN IMMEDIATE`` (``writer``): it
takes the database's write lock first, so units that write are serialised as a whole (read-then-write
is atomic, as with row locks on PostgreSQL; others wait up to ``SQLITE_BUSY_TIMEOUT_MS``). Read-only
sessions begin with a plain ``BEGIN``: one consistent snapshot that never blocks writers in WAL mode.
"""

from __future__ import annotations

import threading
import weakref

from sqlalchemy import Engine, make_url

SQLITE_BUSY_TIMEOUT_MS = 5000
# FULL: a commit is synced to disk before it returns, so an acknowledged answer survives a power
# cut (NORMAL in WAL mode may lose the last commits). An operator may trade that for speed by adding
# ``?synchronous=NORMAL`` to TRUSTLAB_DB_URL (benchmarks/bench_serve.py --compare-synchronous).
SQLITE_SYNCHRONOUS = "FULL"
SQLITE_SYNCHRONOUS_MODES = ("OFF", "NORMAL", "FULL", "EXTRA")
# Execution option read by the begin event: how a SQLite transaction begins.
_SQLITE_BEGIN = "trustlab_sqlite_begin"
_writers: weakref.WeakKeyDictionary[Engine, Engine] = weakref.WeakKeyDictionary()
_writers_lock = threading.Lock()


def sqlite_connect(synchronous: str):
    def on_connect(dbapi_connection, _record) -> None:
        # The driver emits no BEGIN of its own (and no COMMIT before DDL): sqlite_begin does.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute(f"PRAGMA synchronous={synchronous}")
        cursor.close()

    return on_connect


def sqlite_begin(connection) -> None:
    mode = connection.get_execution_options().get(_SQLITE_BEGIN, "")
    connection.exec_driver_sql(f"BEGIN {mode}".strip())


def sqlite_synchronous(url: str) -> tuple[str, str]:
    """``url`` without its ``synchronous`` query option, and the mode it names (default FULL)."""
    parsed = make_url(url)
    mode = str(parsed.query.get("synchronous", SQLITE_SYNCHRONOUS)).upper()
    if mode not in SQLITE_SYNCHRONOUS_MODES:
        raise ValueError(
            f"synchronous={mode!r} in the SQLite URL is not one of {', '.join(SQLITE_SYNCHRONOUS_MODES)}"
        )
    return parsed.difference_update_query(["synchronous"]).render_as_string(hide_password=False), mode


def writer(engine: Engine) -> Engine:
    """``engine`` for a unit that writes: on SQLite its transactions begin with BEGIN IMMEDIATE
    (the database's write lock is taken first, so the unit's reads cannot go stale before its
    writes); on PostgreSQL the engine itself (rows are locked with SELECT ... FOR UPDATE)."""
    if engine.dialect.name != "sqlite":
        return engine
    with _writers_lock:
        found = _writers.get(engine)
        if found is None:
            found = _writers[engine] = engine.execution_options(**{_SQLITE_BEGIN: "IMMEDIATE"})
        return found
