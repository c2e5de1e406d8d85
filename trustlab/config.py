"""One validated settings object read from the environment (TRUSTLAB_HOME, TRUSTLAB_DB_URL)."""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import BaseModel, Field, field_validator

DEFAULT_HOME = "./.trustlab"
SQLITE_FILENAME = "trustlab.db"
# Database connections per process: every request holds one only for a short unit of work (nothing
# waits on an explanation with one open), so a few serve many raters. On PostgreSQL, workers x
# (pool size + overflow) must stay below the server's max_connections (100 by default).
DEFAULT_DB_POOL_SIZE = 10
DEFAULT_DB_MAX_OVERFLOW = 10
# Gradio's queue (the rater page's events go through it; see docs/deployment.md, "Many raters").
# Staff tabs and sign-in: events without their own limit run this many at a time per process.
DEFAULT_UI_CONCURRENCY = 32
# The rater page's events (sign-in from the link, Submit, the pending-explanation poll) share one limit.
# Submit skips Gradio's queue and waits on the event loop instead (platform/ui/queue.py, DirectGate):
# a handler mostly waits on commits (fsync) and the database's write lock, so running more of them at
# once on one interpreter makes them slower for everyone (bench_serve.py --burst).
DEFAULT_UI_RATER_CONCURRENCY = 4
# Events waiting in the queue before it answers "queue full" (a page shows an error and the rater
# clicks again): far above what a launch burst queues, a bound on memory under a flood of page loads.
DEFAULT_UI_QUEUE_SIZE = 2000


class Settings(BaseModel):
    """Where trustlab keeps its state.

    home: folder holding the SQLite database, normalised images and explanation artifacts.
    db_url: SQLAlchemy URL; None means the embedded SQLite file under ``home``.
    db_pool_size, db_max_overflow: the connection pool of each process (``TRUSTLAB_DB_POOL_SIZE``,
        ``TRUSTLAB_DB_MAX_OVERFLOW``): connections kept open, and extra ones opened under load.
    """

    home: Path
    db_url: str | None = None
    db_pool_size: int = Field(default=DEFAULT_DB_POOL_SIZE, ge=1)
    db_max_overflow: int = Field(default=DEFAULT_DB_MAX_OVERFLOW, ge=0)
    ui_concurrency: int = Field(default=DEFAULT_UI_CONCURRENCY, ge=1)
    ui_rater_concurrency: int = Field(default=DEFAULT_UI_RATER_CONCURRENCY, ge=0)
    ui_queue_size: int = Field(default=DEFAULT_UI_QUEUE_SIZE, ge=1)

    @field_validator("home")
    @classmethod
    def _absolute(cls, value: Path) -> Path:
        return value.expanduser().resolve()

    @field_validator("db_url")
    @classmethod
    def _known_driver(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        if not value.startswith(("sqlite", "postgresql")):
            raise ValueError(
                f"TRUSTLAB_DB_URL={value!r} is not supported: use sqlite:///PATH or "
                "postgresql+psycopg://USER:PASSWORD@HOST:PORT/DB"
            )
        if value.startswith("postgresql://"):
            value = "postgresql+psycopg://" + value.removeprefix("postgresql://")
        return value

    @property
    def database_url(self) -> str:
        return self.db_url or f"sqlite:///{self.home / SQLITE_FILENAME}"

    @property
    def images_dir(self) -> Path:
        return self.home / "images"

    @property
    def artifacts_dir(self) -> Path:
        return self.home / "artifacts"

    @property
    def models_dir(self) -> Path:
        return self.home / "models"

    def ensure_dirs(self) -> None:
        for path in (self.home, self.images_dir, self.artifacts_dir, self.models_dir):
            path.mkdir(parents=True, exist_ok=True)


def load_settings(home: str | os.PathLike | None = None, db_url: str | None = None) -> Settings:
    """Settings from explicit values, else the environment, else defaults."""
    return Settings(
        home=Path(home or os.environ.get("TRUSTLAB_HOME") or DEFAULT_HOME),
        db_url=db_url if db_url is not None else os.environ.get("TRUSTLAB_DB_URL"),
        db_pool_size=os.environ.get("TRUSTLAB_DB_POOL_SIZE") or DEFAULT_DB_POOL_SIZE,
        db_max_overflow=os.environ.get("TRUSTLAB_DB_MAX_OVERFLOW") or DEFAULT_DB_MAX_OVERFLOW,
        ui_concurrency=os.environ.get("TRUSTLAB_UI_CONCURRENCY") or DEFAULT_UI_CONCURRENCY,
        ui_rater_concurrency=os.environ.get("TRUSTLAB_UI_RATER_CONCURRENCY") or DEFAULT_UI_RATER_CONCURRENCY,
        ui_queue_size=os.environ.get("TRUSTLAB_UI_QUEUE_SIZE") or DEFAULT_UI_QUEUE_SIZE,
    )
