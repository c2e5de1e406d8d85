"""An explanation for a rater's screen: the stored one, or one computed now through the batched
explanation worker (other raters' requests join the batch).

No database session is held while the worker computes: a rater waiting for an explanation must not
hold a pooled connection (on PostgreSQL, "idle in transaction") that other raters' answers need. And
nobody waits long: after ``timeout`` seconds (the worker's ``wait_s``, a second or two) the caller gets
``ExplanationPending`` while the worker goes on computing, and the rater's page asks again
(``RETRY_AFTER_S`` later).
"""

from __future__ import annotations

import logging
from typing import Any

from trustlab.config import Settings
from trustlab.db.engine import read_session
from trustlab.db.queries.explanations import get_explanation
from trustlab.db.queries.predictions import get_prediction
from trustlab.platform.content.study_cache import StudyContext
from trustlab.platform.content.worker import DEFAULT_WAIT_S, ExplanationPending, ExplanationWorker

log = logging.getLogger(__name__)

# What a client told "pending" should wait before asking again (whole seconds: the Retry-After header).
RETRY_AFTER_S = 2
# Stands for an explanation still being computed where a caller lists rows (row, None or PENDING).
PENDING = object()


def stored_explanation(session: Any, ctx: StudyContext, *, item_id: int, method: str) -> tuple[Any, Any]:
    """(prediction, explanation) of the study model for ``item_id`` by ``method``; either may be None."""
    prediction, rows = stored_rows(session, ctx, item_id=item_id, methods=[method])
    return prediction, rows[0]


def stored_rows(
    session: Any, ctx: StudyContext, *, item_id: int, methods: list[str]
) -> tuple[Any, list[Any]]:
    """(prediction, [each method's stored Explanation or None]) of the study model for ``item_id``."""
    prediction = get_prediction(session, model_version_id=ctx.model_version_id, item_id=item_id)
    if prediction is None:
        return None, [None] * len(methods)
    return prediction, [get_explanation(session, prediction_id=prediction.id, method=m) for m in methods]


def explanation_row(
    settings: Settings,
    worker: ExplanationWorker,
    ctx: StudyContext,
    *,
    item_id: int,
    method: str,
    timeout: float = DEFAULT_WAIT_S,
) -> Any:
    """The Explanation row of the study model's prediction of ``item_id`` by ``method``, computing
    it when missing; None when it cannot be had (the rater then sees "could not be computed").

    Waits at most ``timeout`` seconds for the worker (no session is open meanwhile); raises
    ExplanationPending when the explanation is still being computed after that (it goes on)."""
    with read_session(settings) as session:
        _, row = stored_explanation(session, ctx, item_id=item_id, method=method)
    if row is not None:
        return row
    try:
        worker.request(ctx.model_name, item_id, method, timeout=timeout)
    except ExplanationPending:
        raise
    except Exception:  # a failed explanation must not block the rater; the log says why
        log.exception("explaining item %s with %s for study %r failed", item_id, method, ctx.name)
        return None
    with read_session(settings) as session:
        return stored_explanation(session, ctx, item_id=item_id, method=method)[1]
