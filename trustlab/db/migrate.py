"""Alembic, run from inside the package: every schema change is a migration.

Several workers may start on one fresh database at once (``trustlab serve`` behind a proxy, cluster
jobs of ``trustlab explain``): each upgrades under a lock, so exactly one migrates and the others find
the schema at head. PostgreSQL: a transaction-level advisory lock on the migration connection. SQLite:
a file lock next to the database file, and the DDL inside one real transaction (BEGIN IMMEDIATE, see
``trustlab.db.sqlite``), with foreign keys off while a table is rebuilt (SQLite's documented procedure for
schema changes), checked before the commit.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path

from alembic import command
from alembic.config import Config
from filelock import FileLock
from sqlalchemy import Connection, Engine, inspect, text

from trustlab.db.sqlite import writer

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
# pg_advisory_xact_lock key of trustlab's migrations ("trustlab" as 8 bytes): one per database.
PG_MIGRATION_LOCK_KEY = int.from_bytes(b"trustlab", "big")
# A worker waits this long for another one's migration before giving up.
MIGRATION_LOCK_TIMEOUT_S = 600


class MigrationFailed(RuntimeError):
    """A migration left the database inconsistent; it was rolled back."""


def alembic_config(engine: Engine | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    if engine is not None:
        # configparser interpolates "%": escape it (URL-encoded options contain "%3D").
        url = engine.url.render_as_string(hide_password=False)
        cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
        cfg.attributes["engine"] = engine
    return cfg


def sqlite_lock_path(engine: Engine) -> Path | None:
    """The lock file next to a SQLite database file (None for an in-memory database)."""
    database = engine.url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database).with_name(Path(database).name + ".migrate.lock")


def upgrade_to_head(engine: Engine, revision: str = "head") -> None:
    """Bring the database to the newest schema (a no-op when it is there already), under the lock."""
    cfg = alembic_config(engine)
    with migration_connection(engine) as connection:
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, revision)


@contextmanager
def migration_connection(engine: Engine) -> Iterator[Connection]:
    """A connection inside one transaction that holds the migration lock; commits on a clean exit."""
    if engine.dialect.name != "sqlite":
        with engine.begin() as connection:
            if engine.dialect.name == "postgresql":
                connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": PG_MIGRATION_LOCK_KEY})
            yield connection
        return
    path = sqlite_lock_path(engine)
    lock = FileLock(str(path), timeout=MIGRATION_LOCK_TIMEOUT_S) if path is not None else nullcontext()
    with lock, writer(engine).connect() as connection:
        driver = connection.connection.driver_connection
        driver.execute("PRAGMA foreign_keys=OFF")  # outside a transaction, or it is ignored
        try:
            with connection.begin():
                yield connection
                broken = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
                if broken:
                    raise MigrationFailed(f"the migration broke foreign keys (rolled back): {broken[:5]}")
        finally:
            driver.execute("PRAGMA foreign_keys=ON")


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        if "alembic_version" not in inspect(connection).get_table_names():
            return None
        from alembic.runtime.migration import MigrationContext

        return MigrationContext.configure(connection).get_current_revision()
