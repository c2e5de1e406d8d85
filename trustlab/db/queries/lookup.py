"""Get a named row or raise NotFound: one rule for datasets, models and studies.

The message names what is missing, lists the names that do exist (so a typo shows at once) and says
which command makes one: ``dataset 'x' does not exist (known: a, b); ingest it with `trustlab ingest```.
"""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from trustlab.db.queries.errors import NotFound

Row = TypeVar("Row")


def known_names(session: Session, name_column: Any) -> str:
    """The names in ``name_column`` in order, comma-separated, or "none yet"."""
    return ", ".join(session.scalars(select(name_column).order_by(name_column))) or "none yet"


def get_named(session: Session, model: type[Row], *, name: str, noun: str, remedy: str) -> Row:
    """The ``model`` row called ``name``; NotFound naming the known ones and ``remedy`` otherwise."""
    row = session.scalars(select(model).where(model.name == name)).first()
    if row is None:
        known = known_names(session, model.name)
        raise NotFound(f"{noun} {name!r} does not exist (known: {known}); {remedy}")
    return row
