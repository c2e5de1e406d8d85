"""Is the database reachable and at the newest schema? (`trustlab doctor`). Reads only."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from alembic.script import ScriptDirectory
from sqlalchemy import create_engine
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlalchemy.pool import NullPool

from trustlab.db.migrate import alembic_config, current_revision

# A server that does not answer within this many seconds counts as unreachable.
CONNECT_TIMEOUT_S = 5


@dataclass(frozen=True)
class DatabaseHealth:
    """url: the URL with its password hidden; revision: the schema revision found (None: no schema);
    head: the newest revision trustlab knows; error: why it could not be reached (None when it was)."""

    url: str
    reachable: bool
    revision: str | None
    head: str | None
    error: str | None = None

    @property
    def at_head(self) -> bool:
        return self.reachable and self.revision is not None and self.revision == self.head


def hidden_password(url: str) -> str:
    """``url`` with its password shown as ***."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<not a database URL>"


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def database_health(url: str) -> DatabaseHealth:
    """Connect once (without creating or migrating anything) and read the schema revision."""
    shown, head = hidden_password(url), head_revision()
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        return DatabaseHealth(shown, False, None, head, f"not a database URL: {exc}")
    connect_args = {}
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if database and database != ":memory:" and not database.startswith("file:"):
            if not Path(database).is_file():
                return DatabaseHealth(shown, False, None, head, f"no database file at {database}")
    elif parsed.get_backend_name() == "postgresql":
        connect_args["connect_timeout"] = CONNECT_TIMEOUT_S
    engine = create_engine(parsed, poolclass=NullPool, connect_args=connect_args)
    try:
        revision = current_revision(engine)
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        return DatabaseHealth(shown, False, None, head, reason)
    finally:
        engine.dispose()
    return DatabaseHealth(shown, True, revision, head)
