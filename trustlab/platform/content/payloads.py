"""What a rater's screen receives: the item payload and its explanation entries, as JSON-ready dicts.

Pure functions of the study's context and the rows already read; ``disclosure`` decides what a study
under condition hiding or with a hidden prediction must not reveal.
"""

from __future__ import annotations

from typing import Any

from trustlab.explanation_methods import METHODS
from trustlab.platform import routes
from trustlab.platform.content import disclosure
from trustlab.platform.content.study_cache import StudyContext
from trustlab.studies.questions import questions_for

NOT_COMPUTED = "this explanation could not be computed"
# An explanation entry's ``status``: shown, still being computed (ask again), or not to be had.
READY, PENDING, FAILED = "ready", "pending", "failed"


def method_kind(method: str) -> str:
    """How to read an explanation picture ("heatmap", "regions" or "examples"): tells the UI what
    legend to draw, not which method it is."""
    spec = METHODS.get(method)
    return spec.display if spec is not None else "heatmap"


def method_title(ctx: StudyContext, method: str) -> str:
    """The rater-facing title of a method: the catalogue's, else the imported method's, else its name."""
    if method in METHODS:
        return METHODS[method].title
    return ctx.imported_methods.get(method, {}).get("title", method)


def rater_heading(ctx: StudyContext, *, index: int, methods: list[str]) -> dict[str, Any]:
    """What a rater's screen (an item or a practice item) says of the ``index``-th of ``methods``:
    {method, title, kind?}. Under condition hiding a study names no method and no family (``disclosure``)."""
    method, hidden = methods[index], ctx.config.hide_condition
    heading: dict[str, Any] = {
        "method": f"explanation-{index + 1}" if hidden else method,
        "title": disclosure.rater_title(
            method_title(ctx, method),
            examples=method_kind(method) == "examples",
            index=index,
            n_methods=len(methods),
            hide_method=hidden,
            show_prediction=ctx.config.show_prediction,
        ),
    }
    if not hidden:  # the family (heatmap, regions, examples) would hint at the method
        heading["kind"] = method_kind(method)
    return heading


def explanation_entry(
    ctx: StudyContext,
    *,
    assignment_id: int,
    index: int,
    methods: list[str],
    row: Any,
    pending: bool = False,
) -> dict[str, Any]:
    """The ``index``-th explanation of an assignment: {method, title, status, image_url, kind?,
    neighbours?, error?}. Under condition hiding it names no method and no family (no kind, no
    neighbour list: the picture alone); ``row`` is the stored Explanation or None.

    ``status`` is "ready" (``image_url`` shows it), "pending" (still being computed: no image yet, ask
    for the item again) or "failed" (no image; ``error`` says so)."""
    hidden, shown = ctx.config.hide_condition, ctx.config.show_prediction
    entry: dict[str, Any] = {
        **rater_heading(ctx, index=index, methods=methods),
        # Opaque: the assignment and the position in its condition, never the method name.
        "image_url": routes.explanation_image_path(assignment_id, index),
    }
    entry["status"] = READY
    if pending:
        entry["status"], entry["image_url"] = PENDING, None
    elif row is None or not row.overlay_path:
        entry["status"], entry["image_url"] = FAILED, None
        entry["error"] = NOT_COMPUTED
    if row is not None and row.neighbours and not hidden:  # a neighbour list would name the family too
        entry["neighbours"] = disclosure.rater_neighbours(row.neighbours, show_prediction=shown)
    return entry


def item_payload(
    ctx: StudyContext,
    *,
    assignment: Any,
    prediction: Any,
    explanations: list[dict[str, Any]],
    done: int,
    total: int,
    retry_after_s: int,
) -> dict[str, Any]:
    """The rater's current item: assignment_id, item_id, image_url, explanations, questions, progress
    {done, total}, condition (not under condition hiding), prediction {label, confidence}
    (only when the study shows it). Never the true label.

    While an explanation is still being computed the payload also has ``pending: true`` and
    ``retry_after_s`` (ask for the item again after that many seconds); the rater must not answer
    before every explanation is shown (the judgement is about them)."""
    payload: dict[str, Any] = {
        "assignment_id": assignment.id,
        "item_id": assignment.item_id,
        "image_url": routes.item_image_path(assignment.item_id),
        "explanations": explanations,
        "questions": questions_for(ctx.config, ctx.class_names, condition=assignment.condition),
        "progress": {"done": done, "total": total},
    }
    if not ctx.config.hide_condition:
        payload["condition"] = assignment.condition
    if any(entry["status"] == PENDING for entry in explanations):
        payload["pending"] = True
        payload["retry_after_s"] = retry_after_s
    if ctx.config.show_prediction and prediction is not None:
        payload["prediction"] = {
            "label": prediction.predicted_label,
            "confidence": round(float(prediction.confidence), 4),
        }
    return payload
