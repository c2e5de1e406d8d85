"""Queries for imported explanation methods (`trustlab explanations import`)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from trustlab.db.schema import Explanation, ImportedMethod, Prediction


def imported_method_names(session: Session) -> list[str]:
    """Every imported method's name, sorted."""
    return list(session.scalars(select(ImportedMethod.name).order_by(ImportedMethod.name)))


def find_imported_method(session: Session, *, name: str) -> ImportedMethod | None:
    return session.scalars(select(ImportedMethod).where(ImportedMethod.name == name)).first()


def imported_methods_named(session: Session, *, names: Sequence[str]) -> list[ImportedMethod]:
    """The imported methods among ``names`` (names that are not imported are left out), by name."""
    if not names:
        return []
    query = select(ImportedMethod).where(ImportedMethod.name.in_(list(names))).order_by(ImportedMethod.name)
    return list(session.scalars(query))


def add_imported_method(session: Session, *, method: ImportedMethod) -> ImportedMethod:
    session.add(method)
    session.flush()
    return method


def items_without_method(
    session: Session, *, model_version_id: int, method: str, item_ids: Sequence[int]
) -> list[int]:
    """The ``item_ids`` (in order) with no explanation by ``method`` of the model's holdout prediction."""
    have: set[int] = set()
    ids = list(item_ids)
    for start in range(0, len(ids), 500):
        query = (
            select(Prediction.item_id)
            .join(Explanation, Explanation.prediction_id == Prediction.id)
            .where(
                Prediction.model_version_id == model_version_id,
                Prediction.kind == "holdout",
                Prediction.item_id.in_(ids[start : start + 500]),
                Explanation.method == method,
            )
        )
        have.update(session.scalars(query))
    return [i for i in ids if i not in have]
