"""What the rater app does, as plain functions over Settings: the API routes and the Gradio UI
both call these (neither talks SQL). Each call opens one short unit of work.

``Services`` holds only process-wide, rater-independent things: the settings, the study cache, the
explanation worker and the unlabelled-twins cache. Per-rater state lives in the database. The pieces
live apart: ``study_cache`` (what a study is), ``payloads`` (what a screen receives), ``on_demand``
(explanations computed when missing), ``files`` (images behind their access rules).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from trustlab.config import Settings
from trustlab.db.engine import read_session, unit_of_work
from trustlab.db.queries.assignments import assignment_for_rater, get_assignment, mark_served
from trustlab.db.queries.errors import NotFound
from trustlab.db.queries.judgements import judgement_by_key, rater_key_elsewhere, record_judgement
from trustlab.db.queries.predictions import get_prediction
from trustlab.db.queries.studies import get_study_by_id
from trustlab.db.queries.users import set_completion_code
from trustlab.platform import disclosure, files, payloads
from trustlab.platform.auth import Principal, new_completion_code
from trustlab.platform.errors import Conflict, Forbidden, InvalidAnswer, NotFoundError
from trustlab.platform.on_demand import explanation_row
from trustlab.platform.paths import existing_file
from trustlab.platform.study_cache import StudyCache, StudyContext
from trustlab.platform.worker import ExplanationWorker
from trustlab.studies.assign import StudyNotOpen, next_assignment, progress
from trustlab.studies.config import condition_methods
from trustlab.studies.questions import AnswerError, validate_answers

MAX_IDEMPOTENCY_KEY = 200


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
        self.studies = StudyCache(settings)
        self._unlabelled = disclosure.UnlabelledTwins(settings)

    def study(
        self, *, name: str | None = None, study_id: int | None = None, fresh: bool = False
    ) -> StudyContext:
        """The study's context by name or id (``StudyCache.get``)."""
        return self.studies.get(name=name, study_id=study_id, fresh=fresh)

    def list_studies(self) -> list[dict[str, Any]]:
        return self.studies.names()

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
        methods = condition_methods(assignment.condition)
        explanations = [  # each may wait for the worker: no session is held meanwhile
            payloads.explanation_entry(
                ctx,
                assignment_id=assignment.id,
                index=index,
                methods=methods,
                row=explanation_row(
                    self.settings, self.worker, ctx, item_id=assignment.item_id, method=method
                ),
            )
            for index, method in enumerate(methods)
        ]
        with read_session(self.settings) as s:  # computing an explanation also predicts: read it after
            prediction = get_prediction(s, model_version_id=ctx.model_version_id, item_id=assignment.item_id)
        return payloads.item_payload(
            ctx,
            assignment=assignment,
            prediction=prediction,
            explanations=explanations,
            done=done,
            total=total,
        )

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
        reused for another of the rater's assignments, or sent again with different answers).
        """
        if not isinstance(idempotency_key, str) or not 1 <= len(idempotency_key) <= MAX_IDEMPOTENCY_KEY:
            raise InvalidAnswer("idempotency_key", f"must be 1-{MAX_IDEMPOTENCY_KEY} characters")
        if client_elapsed_ms is not None and (
            client_elapsed_ms < 0 or client_elapsed_ms != client_elapsed_ms
        ):
            raise InvalidAnswer("client_elapsed_ms", "must be a non-negative number of milliseconds")
        with read_session(self.settings) as s:
            assignment = assignment_for_rater(s, assignment_id=assignment_id, rater_id=principal.rater_id)
            if assignment is None:
                raise NotFoundError(f"assignment {assignment_id} is not one of your assignments")
            ctx = self.study(study_id=assignment.study_id)
            try:
                cleaned = validate_answers(
                    ctx.config, answers, ctx.class_names, condition=assignment.condition
                )
            except AnswerError as exc:
                raise InvalidAnswer(exc.field, exc.message) from exc
            # Keys are unique per assignment: another rater's keys are never seen here.
            existing = judgement_by_key(s, assignment_id=assignment_id, idempotency_key=idempotency_key)
            if existing is not None:
                return self._replay(existing, cleaned), False
            if rater_key_elsewhere(
                s, rater_id=principal.rater_id, idempotency_key=idempotency_key, assignment_id=assignment_id
            ):
                raise Conflict("this idempotency_key was already used for another answer; send a new key")
            now = _now()
            shown_at = assignment.served_at or assignment.assigned_at
            if shown_at.tzinfo is None:
                shown_at = shown_at.replace(tzinfo=UTC)
            response_ms = max(0.0, (now - shown_at).total_seconds() * 1000.0)
        # The write in its own unit: returning from inside it commits first, so a judgement is on
        # disk before the rater is told it was stored.
        with unit_of_work(self.settings) as s:
            # Read fresh in the writing unit (the cache may be seconds old): a closed study has been
            # unblinded and analysed, so its data must not change afterwards.
            study = get_study_by_id(s, study_id=assignment.study_id)
            if study.status != "open":
                raise Conflict(
                    f"study {study.name!r} is {study.status}: it takes no more answers (your earlier "
                    "answers are stored)"
                )
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
                return self._replay(judgement, cleaned), False
            return judgement.id, True

    @staticmethod
    def _replay(judgement, cleaned: dict[str, Any]) -> int:
        """The stored judgement's id for a request sent again; a different answer under the same key
        is a client error (a changed answer needs a new key), not something to drop silently."""
        if json.loads(json.dumps(cleaned)) != judgement.answers:
            raise Conflict(
                "this idempotency_key was already used for a different answer to this assignment; "
                "send a changed answer with a new key"
            )
        return judgement.id

    # ---- files ---------------------------------------------------------------------------------
    def item_image(self, principal: Principal, *, item_id: int) -> Path:
        return files.item_image(self.settings, principal, item_id=item_id)

    def explanation_image(self, principal: Principal, *, explanation_id: int) -> Path:
        return files.explanation_image(self.settings, principal, explanation_id=explanation_id)

    def staff_artifact(self, principal: Principal, *, relative: str) -> Path:
        return files.staff_artifact(self.settings, principal, relative=relative)

    def assignment_explanation_image(self, principal: Principal, *, assignment_id: int, index: int) -> Path:
        """The picture of the ``index``-th explanation of the caller's assignment (staff: any); twins
        without their classes where the study hides the prediction."""
        with read_session(self.settings) as s:
            if principal.is_staff:
                assignment = get_assignment(s, assignment_id=assignment_id)
            else:
                assignment = assignment_for_rater(s, assignment_id=assignment_id, rater_id=principal.rater_id)
            if assignment is None:
                raise NotFoundError(f"assignment {assignment_id} is not one of your assignments")
        methods = condition_methods(assignment.condition)
        if not 0 <= index < len(methods):
            raise NotFoundError(f"assignment {assignment_id} has no explanation {index}")
        ctx = self.study(study_id=assignment.study_id)
        row = explanation_row(
            self.settings, self.worker, ctx, item_id=assignment.item_id, method=methods[index]
        )
        if row is None or not row.overlay_path:
            raise NotFoundError("this explanation is not available")
        if row.neighbours and not ctx.config.show_prediction:
            with read_session(self.settings) as s:
                relative = self._unlabelled.path(s, row, item_id=assignment.item_id)
            return existing_file(self.settings.artifacts_dir, relative)
        return existing_file(self.settings.artifacts_dir, row.overlay_path)
