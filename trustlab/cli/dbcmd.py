"""`trustlab db upgrade|current`."""

from __future__ import annotations

from trustlab.cli.app import db_app
from trustlab.cli.output import JSON_OPTION, emit
from trustlab.config import load_settings
from trustlab.db.engine import make_engine
from trustlab.db.migrate import current_revision, upgrade_to_head


@db_app.command("upgrade")
def upgrade(as_json: bool = JSON_OPTION) -> None:
    """Migrate the database (TRUSTLAB_DB_URL or the SQLite file under TRUSTLAB_HOME) to the newest schema."""
    settings = load_settings()
    if settings.db_url is None:
        settings.ensure_dirs()
    engine = make_engine(settings.database_url)
    upgrade_to_head(engine)
    revision = current_revision(engine)
    emit({"revision": revision, "url": repr(engine.url)}, as_json=as_json,
         text=f"database at revision [bold]{revision}[/] ({engine.url!r})")


@db_app.command("current")
def current(as_json: bool = JSON_OPTION) -> None:
    """Print the database's schema revision."""
    revision = current_revision(make_engine(load_settings().database_url))
    emit({"revision": revision}, as_json=as_json, text=revision or "empty (run `trustlab db upgrade`)")
