"""Queries the demo's stages needed that had no function yet (issue 11, part 4).

Waiting to be moved into the modules of the tables they count when the queries are grouped by entity;
callers pass a Session; nothing here writes.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from trustlab.db.schema import Explanation, Prediction, RelabelProposal


def count_explanations(session: Session, *, model_version_id: int) -> int:
    """How many explanations (any method, kind or parameters) of this model's predictions are stored."""
    query = (
        select(func.count(Explanation.id))
        .join(Prediction, Explanation.prediction_id == Prediction.id)
        .where(Prediction.model_version_id == model_version_id)
    )
    return int(session.scalar(query) or 0)


def count_relabel_proposals(session: Session, *, dataset_id: int) -> int:
    """How many relabel proposals (open or decided) a dataset has."""
    query = select(func.count(RelabelProposal.id)).where(RelabelProposal.dataset_id == dataset_id)
    return int(session.scalar(query) or 0)
