"""What the rater app does, as plain functions over Settings: the API routes and the Gradio UI
both call these (neither talks SQL). Each call opens one short session.

``Services`` holds only process-wide, rater-independent things: the settings, a short-lived cache
of study configs, and the explanation worker. Per-rater state lives in the database.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from trustlab.config import Settings
from trustlab.db.engine import read_session, unit_of_work
from trustlab.db.queries.assignments import assignment_for_rater, get_assignment, mark_served, rater_has_item
from trustlab.db.queries.errors import NotFound
from trustlab.db.queries.explanations import explanation_by_id, get_explanation
from trustlab.db.queries.items import get_item
from trustlab.db.queries.judgements import judgement_by_key, judgement_owner, record_judgement
from trustlab.db.queries.labels import class_names
from trustlab.db.queries.models import find_model_version
from trustlab.db.queries.predictions import get_prediction
from trustlab.db.queries.studies import get_study, get_study_by_id, list_studies
from trustlab.db.queries.users import set_completion_code
from trustlab.db.schema import Assignment, Study
from trustlab.explanation_methods import METHODS
from trustlab.platform import disclosure
from trustlab.platform.auth import Principal, new_completion_code, require_role
from trustlab.platform.errors import Conflict, Forbidden, InvalidAnswer, NotFoundError
from trustlab.platform.paths import existing_file
from trustlab.platform.worker import ExplanationWorker
from trustlab.studies.assign import StudyNotOpen, next_assignment, progress
from trustlab.studies.config import StudyConfig, condition_methods, load_study_config
from trustlab.studies.questions import AnswerError, questions_for, validate_answers

# A study's config and classes change rarely (never while it is open); re-reading them at most
# this often keeps `next` to a handful of queries under load.
STUDY_CACHE_TTL_S = 5.0
MAX_IDEMPOTENCY_KEY = 200
# How to read an explanation picture, by method ("heatmap", "regions" or "examples"): tells the UI
# what legend to draw, not which method it is (a blinded study still hides the name).
def method_kind(method: str) -> str:
    spec = METHODS.get(method)
    return spec.display if spec is not None else "heatmap"


@dataclass(frozen=True)
class StudyContext:
    id: int
    name: str
    status: str
    dataset_id: int
    model_version_id: int
    model_name: str
    config: StudyConfig
    class_names: list[str]
    questions: list[dict[str, Any]]


@dataclass(frozen=True)
class Finished:
    """The rater has answered everything: show ``completion_code``."""

    completion_code: str
    done: int
    total: int


def _now() -> datetime:
    return datetime.now(UTC)


class Services:
    """The platform's operations for one Settings (one database and home folder)."""

    def __init__(self, settings: Settings, *, worker: ExplanationWorker | None = None) -> None:
        self.settings = settings
        self.worker = worker or ExplanationWorker(settings)
        self._studies: dict[int | str, tuple[float, StudyContext]] = {}
        self._lock = threading.Lock()
        self._unlabelled = disclosure.UnlabelledTwins(settings)

    # ---- studies -------------------------------------------------------------------------------
    def study(
        self, *, name: str | None = None, study_id: int | None = None, fresh: bool = False
    ) -> StudyContext:
        """The study's context by name or id (cached for STUDY_CACHE_TTL_S unless ``fresh``)."""
        key: int | str = study_id if study_id is not None else str(name)
        with self._lock:
            hit = self._studies.get(key)
        if hit is not None and not fresh and time.monotonic() - hit[0] < STUDY_CACHE_TTL_S:
            return hit[1]
        with read_session(self.settings) as s:
            try:
                row = (
                    get_study_by_id(s, study_id=study_id)
                    if study_id is not None
                    else get_study(s, name=str(name))
                )
            except NotFound as exc:
                raise NotFoundError(str(exc)) from exc
            ctx = self._context(s, row)
        stamp = time.monotonic()
        with self._lock:
            self._studies[ctx.id] = (stamp, ctx)
            self._studies[ctx.name] = (stamp, ctx)
        return ctx

    def _context(self, session, row: Study) -> StudyContext:
        config = load_study_config(row.config)
        classes = class_names(session, dataset_id=row.dataset_id)
        model = find_model_version(session, name=config.model)
        return StudyContext(
            id=row.id,
            name=row.name,
            status=row.status,
            dataset_id=row.dataset_id,
            model_version_id=row.model_version_id,
            model_name=model.name if model else config.model,
            config=config,
            class_names=classes,
            questions=questions_for(config, classes),
        )

    def list_studies(self) -> list[dict[str, Any]]:
        with read_session(self.settings) as s:
            return [{"name": st.name, "status": st.status, "id": st.id} for st in list_studies(s)]

    # ---- the rater flow ------------------------------------------------------------------------
    def _rater_study(self, principal: Principal, study: str) -> StudyContext:
        ctx = self.study(name=study)
        if principal.is_staff:
            raise Forbidden("staff accounts do not rate; open an invite link to rate")
        if principal.study_id != ctx.id:
            raise Forbidden(f"you were not invited to study {study!r}")
        return ctx

    def next_item(self, principal: Principal, *, study: str) -> dict[str, Any] | Finished:
        """The rater's current item as a JSON-ready dict, or Finished.

        The dict: assignment_id, item_id, image_url, condition (only when the study is not
        blinded), prediction {label, confidence} (only when the study shows it), explanations
        [{method, kind, title, image_url, neighbours?}] (blinded: method is "explanation-N", no kind,
        a neutral title), questions, progress {done, total}. Never the true label; when the study
        hides the prediction, nothing that states the predicted class (``disclosure``).
        """
        ctx = self._rater_study(principal, study)
        # Two units: the first (assignment, progress, served time) commits, releasing the study's
        # assignment lock, before the second may wait for an explanation to be computed.
        with unit_of_work(self.settings) as s:
            try:
                assignment = next_assignment(s, study_id=ctx.id, rater_id=principal.rater_id)
            except StudyNotOpen as exc:
                raise Conflict(str(exc)) from exc
            done, total = progress(s, study_id=ctx.id, rater_id=principal.rater_id)
            if assignment is None and done == 0:
                # No completion code for work not done: a full study is not a finished rater.
                raise Conflict(
                    f"study {study!r} has no items left for a new rater (every item has its "
                    "raters); please tell the researcher who sent you the link"
                )
            if assignment is None:
                code = set_completion_code(s, rater_id=principal.rater_id, code=new_completion_code())
                return Finished(completion_code=code, done=done, total=total)
            if assignment.served_at is None:
                mark_served(s, assignment_id=assignment.id, now=_now())
        with read_session(self.settings) as s:
            prediction = get_prediction(
                s, model_version_id=ctx.model_version_id, item_id=assignment.item_id
            )
            explanations = self._explanations(s, ctx, assignment, prediction)
            if prediction is None and explanations:  # computing an explanation also predicts
                prediction = get_prediction(
                    s, model_version_id=ctx.model_version_id, item_id=assignment.item_id
                )
        payload: dict[str, Any] = {
            "assignment_id": assignment.id,
            "item_id": assignment.item_id,
            "image_url": f"/api/v1/items/{assignment.item_id}/image",
            "explanations": explanations,
            "questions": questions_for(ctx.config, ctx.class_names, condition=assignment.condition),
            "progress": {"done": done, "total": total},
        }
        if not ctx.config.blind_condition:
            payload["condition"] = assignment.condition
        if ctx.config.show_prediction and prediction is not None:
            payload["prediction"] = {
                "label": prediction.predicted_label,
                "confidence": round(float(prediction.confidence), 4),
            }
        return payload

    def _explanations(
        self, session, ctx: StudyContext, assignment: Assignment, prediction
    ) -> list[dict[str, Any]]:
        out = []
        blind, shown = ctx.config.blind_condition, ctx.config.show_prediction
        methods = condition_methods(assignment.condition)
        for index, method in enumerate(methods):
            row = self._explanation_row(session, ctx, assignment.item_id, method, prediction)
            entry: dict[str, Any] = {
                "method": f"explanation-{index + 1}" if blind else method,
                "title": disclosure.rater_title(
                    METHODS[method].title if method in METHODS else method,
                    examples=method_kind(method) == "examples",
                    index=index,
                    n_methods=len(methods),
                    blind=blind,
                    show_prediction=shown,
                ),
                # Opaque: the assignment and the position in its condition, never the method name.
                "image_url": f"/api/v1/assignments/{assignment.id}/explanations/{index}/image",
            }
            if not blind:  # the family (heatmap, regions, examples) would hint at the method
                entry["kind"] = method_kind(method)
            if row is None or not row.overlay_path:
                entry["image_url"] = None
                entry["error"] = "this explanation could not be computed"
            if row is not None and row.neighbours:
                entry["neighbours"] = disclosure.rater_neighbours(row.neighbours, show_prediction=shown)
            out.append(entry)
        return out

    def _explanation_row(self, session, ctx: StudyContext, item_id: int, method: str, prediction):
        if prediction is not None:
            row = get_explanation(session, prediction_id=prediction.id, method=method)
            if row is not None:
                return row
        # Missing: compute it through the batched worker (other raters' requests join the batch).
        try:
            self.worker.request(ctx.model_name, item_id, method)
        except Exception:  # noqa: BLE001 - a failed explanation must not block the rater
            return None
        session.expire_all()
        prediction = get_prediction(session, model_version_id=ctx.model_version_id, item_id=item_id)
        if prediction is None:
            return None
        return get_explanation(session, prediction_id=prediction.id, method=method)

    def submit(
        self,
        principal: Principal,
        *,
        assignment_id: int,
        answers: dict[str, Any],
        idempotency_key: str,
        client_elapsed_ms: float | None = None,
    ) -> tuple[int, bool]:
        """Store a judgement; returns ``(judgement_id, created)``.

        The same ``idempotency_key`` again returns the stored id with ``created=False``. Raises
        NotFoundError (not the caller's assignment), InvalidAnswer (names the field), Conflict (key
        reused for another assignment).
        """
        if not isinstance(idempotency_key, str) or not 1 <= len(idempotency_key) <= MAX_IDEMPOTENCY_KEY:
            raise InvalidAnswer("idempotency_key", f"must be 1-{MAX_IDEMPOTENCY_KEY} characters")
        if client_elapsed_ms is not None and (
            client_elapsed_ms < 0 or client_elapsed_ms != client_elapsed_ms
        ):
            raise InvalidAnswer("client_elapsed_ms", "must be a non-negative number of milliseconds")
        with read_session(self.settings) as s:
            existing = judgement_by_key(s, idempotency_key=idempotency_key)
            if existing is not None:
                return self._replay(s, principal, existing, assignment_id), False
            assignment = assignment_for_rater(
                s, assignment_id=assignment_id, rater_id=principal.rater_id
            )
            if assignment is None:
                raise NotFoundError(f"assignment {assignment_id} is not one of your assignments")
            ctx = self.study(study_id=assignment.study_id)
            try:
                cleaned = validate_answers(
                    ctx.config, answers, ctx.class_names, condition=assignment.condition
                )
            except AnswerError as exc:
                raise InvalidAnswer(exc.field, exc.message) from exc
            now = _now()
            shown_at = assignment.served_at or assignment.assigned_at
            if shown_at.tzinfo is None:
                shown_at = shown_at.replace(tzinfo=UTC)
            response_ms = max(0.0, (now - shown_at).total_seconds() * 1000.0)
        # The write in its own unit: returning from inside it commits first, so a judgement is on
        # disk before the rater is told it was stored.
        with unit_of_work(self.settings) as s:
            try:
                judgement, created = record_judgement(
                    s,
                    assignment_id=assignment_id,
                    rater_id=principal.rater_id,
                    answers=cleaned,
                    idempotency_key=idempotency_key,
                    now=now,
                    response_ms=response_ms,
                    client_elapsed_ms=client_elapsed_ms,
                )
            except NotFound as exc:
                raise NotFoundError(str(exc)) from exc
            if not created:
                return self._replay(s, principal, judgement, assignment_id), False
            return judgement.id, True

    def _replay(self, session, principal: Principal, judgement, assignment_id: int) -> int:
        if (
            judgement.assignment_id != assignment_id
            or judgement_owner(session, judgement_id=judgement.id) != principal.rater_id
        ):
            raise Conflict("this idempotency_key was already used for another answer; send a new key")
        return judgement.id

    # ---- files ---------------------------------------------------------------------------------
    def item_image(self, principal: Principal, *, item_id: int) -> Path:
        """The item's image file, if the caller may see it (staff, or a rater assigned the item)."""
        with read_session(self.settings) as s:
            if not principal.is_staff and not rater_has_item(
                s, rater_id=principal.rater_id, item_id=item_id
            ):
                raise NotFoundError(f"item {item_id} is not one of your items")
            try:
                item = get_item(s, item_id=item_id)
            except NotFound as exc:
                raise NotFoundError(f"item {item_id} does not exist") from exc
            return existing_file(self.settings.images_dir, item.path)

    def assignment_explanation_image(self, principal: Principal, *, assignment_id: int, index: int) -> Path:
        """The overlay of the ``index``-th explanation of the caller's assignment."""
        with read_session(self.settings) as s:
            if principal.is_staff:
                assignment = get_assignment(s, assignment_id=assignment_id)
            else:
                assignment = assignment_for_rater(
                    s, assignment_id=assignment_id, rater_id=principal.rater_id
                )
            if assignment is None:
                raise NotFoundError(f"assignment {assignment_id} is not one of your assignments")
            methods = condition_methods(assignment.condition)
            if not 0 <= index < len(methods):
                raise NotFoundError(f"assignment {assignment_id} has no explanation {index}")
            ctx = self.study(study_id=assignment.study_id)
            prediction = get_prediction(
                s, model_version_id=ctx.model_version_id, item_id=assignment.item_id
            )
            row = self._explanation_row(s, ctx, assignment.item_id, methods[index], prediction)
            if row is None or not row.overlay_path:
                raise NotFoundError("this explanation is not available")
            if row.neighbours and not ctx.config.show_prediction:
                return existing_file(
                    self.settings.artifacts_dir, self._unlabelled.path(s, row, item_id=assignment.item_id)
                )
            return existing_file(self.settings.artifacts_dir, row.overlay_path)

    def explanation_image(self, principal: Principal, *, explanation_id: int) -> Path:
        """Any explanation's overlay, for staff (curators and researchers browse all of them)."""
        require_role(principal, "researcher", "curator")
        with read_session(self.settings) as s:
            row = explanation_by_id(s, explanation_id=explanation_id)
            if row is None or not row.overlay_path:
                raise NotFoundError(f"explanation {explanation_id} does not exist")
            return existing_file(self.settings.artifacts_dir, row.overlay_path)

    def staff_artifact(self, principal: Principal, *, relative: str) -> Path:
        """A file under the artifact store by its stored relative path (staff only, checked)."""
        require_role(principal, "researcher", "curator")
        return existing_file(self.settings.artifacts_dir, relative)
