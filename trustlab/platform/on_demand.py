"""An explanation for a rater's screen: the stored one, or one computed now through the batched
explanation worker (other raters' requests join the batch)."""

from __future__ import annotations

import logging
from typing import Any

from trustlab.db.queries.explanations import get_explanation
from trustlab.db.queries.predictions import get_prediction
from trustlab.platform.study_cache import StudyContext
from trustlab.platform.worker import ExplanationWorker

log = logging.getLogger(__name__)


def explanation_row(
    session: Any, worker: ExplanationWorker, ctx: StudyContext, *, item_id: int, method: str, prediction: Any
) -> Any:
    """The Explanation row of the study model's prediction of ``item_id`` by ``method``, computing
    it when missing; None when it cannot be had (the rater then sees "could not be computed")."""
    if prediction is not None:
        row = get_explanation(session, prediction_id=prediction.id, method=method)
        if row is not None:
            return row
    try:
        worker.request(ctx.model_name, item_id, method)
    except Exception:  # a failed explanation must not block the rater; the log says why
        log.exception("explaining item %s with %s for study %r failed", item_id, method, ctx.name)
        return None
    session.expire_all()
    prediction = get_prediction(session, model_version_id=ctx.model_version_id, item_id=item_id)
    if prediction is None:
        return None
    return get_explanation(session, prediction_id=prediction.id, method=method)
