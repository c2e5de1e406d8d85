"""`trustlab db upgrade|current`."""

from __future__ import annotations

from trustlab.cli.app import console, db_app
from trustlab.config import load_settings
from trustlab.db.engine import make_engine
from trustlab.db.migrate import current_revision, upgrade_to_head


@db_app.command("upgrade")
def upgrade() -> None:
    """Migrate the database (TRUSTLAB_DB_URL or the SQLite file under TRUSTLAB_HOME) to the newest schema."""
    settings = load_settings()
    if settings.db_url is None:
        settings.ensure_dirs()
    engine = make_engine(settings.database_url)
    upgrade_to_head(engine)
    console.print(f"database at revision [bold]{current_revision(engine)}[/] ({engine.url!r})")


@db_app.command("current")
def current() -> None:
    """Print the database's schema revision."""
    engine = make_engine(load_settings().database_url)
    console.print(current_revision(engine) or "empty (run `trustlab db upgrade`)")
