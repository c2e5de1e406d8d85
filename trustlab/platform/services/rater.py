"""What the rater app does, as plain functions over Settings: the API routes and the Gradio UI
both call these (neither talks SQL). Each call opens one short unit of work.

``Services`` holds only process-wide, rater-independent things: the settings, the study cache, the
explanation worker and the unlabelled-twins cache. Per-rater state lives in the database. The pieces
live apart: ``study_cache`` (what a study is), ``payloads`` (what a screen receives), ``on_demand``
(explanations computed when missing), ``files`` (images behind their access rules).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from trustlab.clock import utc_now
from trustlab.config import Settings
from trustlab.db.engine import read_session, unit_of_work
from trustlab.db.queries.assignments import (
    assignment_for_rater,
    get_assignment,
    mark_served,
)
from trustlab.db.queries.items import get_item
from trustlab.db.queries.predictions import get_prediction
from trustlab.db.queries.users import set_completion_code
from trustlab.platform.accounts.auth import Principal, new_completion_code
from trustlab.platform.accounts.throttle import LoginThrottle
from trustlab.platform.content import disclosure, files, payloads, recolour
from trustlab.platform.content.neighbours import NeighbourPicture, neighbour_pictures
from trustlab.platform.content.on_demand import PENDING, RETRY_AFTER_S, explanation_row, stored_rows
from trustlab.platform.content.paths import existing_file
from trustlab.platform.content.study_cache import StudyCache, StudyContext, rater_study
from trustlab.platform.content.worker import ExplanationPending, ExplanationWorker
from trustlab.platform.errors import Conflict, Forbidden, NotFoundError
from trustlab.platform.recruitment import steps as participant_steps
from trustlab.platform.services import answers as answers_module
from trustlab.platform.services.answers import NotAnswerable  # noqa: F401 - the UI imports it from here
from trustlab.studies.config.study import condition_methods
from trustlab.studies.design.assign import StudyNotOpen, current_assignment, done_and_total, next_assignment


@dataclass(frozen=True)
class ScreenFiles:
    """The files a rater's item screen shows: the item's image and each explanation's picture (None
    where there is none: pending or not computed)."""

    item: Path
    explanations: list[Path | None]
    # Each explanation's neighbours as the rater page shows them (empty where it is not a twin).
    neighbours: list[list[NeighbourPicture]] = field(default_factory=list)


@dataclass(frozen=True)
class Finished:
    """The rater has answered everything: show ``completion_code``."""

    completion_code: str
    done: int
    total: int


@dataclass
class _Screen:
    """What one item screen is made of, gathered in steps: the assignment and the rater's counts, the
    condition's methods, the prediction, each method's explanation row (None: not stored yet;
    ``PENDING``: still being computed) and the item."""

    assignment: Any
    done: int
    total: int
    methods: list[str]
    prediction: Any = None
    rows: list[Any] | None = None
    item: Any = None


class Services:
    """The platform's operations for one Settings (one database and home folder)."""

    def __init__(self, settings: Settings, *, worker: ExplanationWorker | None = None) -> None:
        self.settings = settings
        self.worker = worker or ExplanationWorker(settings)
        self.studies = StudyCache(settings)
        self._unlabelled = disclosure.UnlabelledTwins(settings)
        self.login_throttle = LoginThrottle()  # failed sign-ins, counted in this process

    def study(
        self, *, name: str | None = None, study_id: int | None = None, fresh: bool = False
    ) -> StudyContext:
        """The study's context by name or id (``StudyCache.get``)."""
        return self.studies.get(name=name, study_id=study_id, fresh=fresh)

    def list_studies(self) -> list[dict[str, Any]]:
        return self.studies.names()

    # ---- the rater flow ------------------------------------------------------------------------
    def _rater_study(self, principal: Principal, study: str) -> StudyContext:
        """The rater's own study when ``study`` names it; else a plain 404 that names no other study
        (a rater must not learn which studies exist)."""
        if principal.is_staff:
            raise Forbidden("staff accounts do not rate; open an invite link to rate")
        return rater_study(self, principal, name=study)

    def next_item(self, principal: Principal, *, study: str) -> dict[str, Any] | Finished:
        """The rater's current item as a JSON-ready dict, or Finished.

        The dict: assignment_id, item_id, image_url, condition (not under condition hiding),
        prediction {label, confidence} (only when the study shows it), explanations
        [{method, kind, title, status, image_url, neighbours?, error?}] (condition hiding: method is
        "explanation-N", no kind, a neutral title), questions, progress {done, total}. Never the true
        label; when the study hides the prediction, nothing that states the predicted class
        (``disclosure``).

        An explanation still being computed after the worker's ``wait_s`` has status "pending" and
        the dict ``pending: true`` and ``retry_after_s``: ask again (the worker goes on meanwhile).
        The item counts as shown (its response time starts) only once every explanation is ready.
        """
        return self.next_screen(principal, study=study)[0]

    def next_screen(
        self, principal: Principal, *, study: str, participant: bool | None = None
    ) -> tuple[dict[str, Any] | Finished, ScreenFiles | None]:
        """``next_item`` and the files its pictures show (the item's image, each explanation's
        picture or None), for the rater page, which draws them itself: the assignment is the rater's
        own, so no access check is needed again.

        ``participant``: whether the rater is a participant of a link study whose next step the
        caller has just found to be an item (``participant_steps.next_step``); None: find out here."""
        ctx = self._rater_study(principal, study)
        if participant is None:
            # A participant of a link study: their session may have ended, or a practice item or an
            # attention check comes first (participant_steps); invited raters go straight on.
            participant = participant_steps.is_participant(
                ctx.config
            ) and participant_steps.pending_check(self, principal)
        screen = self._stored_screen(ctx, principal)  # the common case: reads only
        if screen is None:
            assigned = self._assign(ctx, principal, study=study, participant=participant)
            if isinstance(assigned, Finished):
                return assigned, None
            screen = _Screen(*assigned, methods=condition_methods(assigned[0].condition))
        if screen.rows is None or any(row is None for row in screen.rows):
            self._compute_missing(ctx, screen)  # computed now by the worker, or pending
        ready = all(row is not PENDING for row in screen.rows)
        # The item is shown (its response time starts) when the rater sees every explanation, not
        # while one is pending.
        if ready and screen.assignment.served_at is None:
            with unit_of_work(self.settings) as s:
                mark_served(s, assignment_id=screen.assignment.id, now=utc_now())
        return self._payload(ctx, screen), self._screen_files(ctx, principal, screen)

    def _stored_screen(self, ctx: StudyContext, principal: Principal) -> _Screen | None:
        """The rater's current assignment with what is stored for it (None: the rater has none yet)."""
        with read_session(self.settings) as s:
            current = current_assignment(s, study_id=ctx.id, rater_id=principal.rater_id)
            if current is None:
                return None
            assignment, done, total = current
            methods = condition_methods(assignment.condition)
            prediction, rows = stored_rows(s, ctx, item_id=assignment.item_id, methods=methods)
            item = get_item(s, item_id=assignment.item_id)
        return _Screen(assignment, done, total, methods, prediction=prediction, rows=rows, item=item)

    def _compute_missing(self, ctx: StudyContext, screen: _Screen) -> None:
        """Fill ``screen`` with every explanation (waiting for the worker) and, after them, the
        prediction, which computing an explanation may have made."""
        item_id = screen.assignment.item_id
        screen.rows = self._explanation_rows(ctx, item_id=item_id, methods=screen.methods)
        with read_session(self.settings) as s:
            screen.prediction = get_prediction(s, model_version_id=ctx.model_version_id, item_id=item_id)
            screen.item = get_item(s, item_id=item_id)

    def _payload(self, ctx: StudyContext, screen: _Screen) -> dict[str, Any]:
        """The JSON-ready item (``next_item``'s dict)."""
        explanations = [
            payloads.explanation_entry(
                ctx,
                assignment_id=screen.assignment.id,
                index=index,
                methods=screen.methods,
                row=None if row is PENDING else row,
                pending=row is PENDING,
            )
            for index, row in enumerate(screen.rows)
        ]
        return payloads.item_payload(
            ctx,
            assignment=screen.assignment,
            prediction=screen.prediction,
            explanations=explanations,
            done=screen.done,
            total=screen.total,
            retry_after_s=RETRY_AFTER_S,
        )

    def _screen_files(self, ctx: StudyContext, principal: Principal, screen: _Screen) -> ScreenFiles:
        """The files the rater page draws: the item's image and each explanation's picture."""
        item_path = existing_file(self.settings.images_dir, screen.item.path)
        item_id = screen.assignment.item_id
        pictures = [
            self._explanation_file(ctx, principal, row, item_id=item_id, item_path=item_path)
            for row in screen.rows
        ]
        return ScreenFiles(
            item=item_path, explanations=pictures, neighbours=self._neighbours(ctx, screen.rows)
        )

    def _neighbours(self, ctx: StudyContext, rows: list[Any]) -> list[list[NeighbourPicture]]:
        """Each row's neighbours as the rater page shows them (``neighbours``)."""
        if not any(row is not PENDING and row is not None and row.neighbours for row in rows):
            return [[] for _ in rows]
        with read_session(self.settings) as s:
            return [
                neighbour_pictures(self.settings, s, None if row is PENDING else row,
                                   show_prediction=ctx.config.show_prediction)
                for row in rows
            ]

    def _assign(
        self, ctx: StudyContext, principal: Principal, *, study: str, participant: bool
    ) -> tuple[Any, int, int] | Finished:
        """(assignment, done, total) from ``next_assignment`` (making the rater's list on first
        arrival, giving back released items), or Finished: in a unit that writes, committed (releasing
        the study's assignment lock) before any explanation may be waited for."""
        with unit_of_work(self.settings) as s:
            try:
                assignment = next_assignment(s, study_id=ctx.id, rater_id=principal.rater_id)
            except StudyNotOpen as exc:
                raise Conflict(str(exc)) from exc
            done, total = done_and_total(s, study_id=ctx.id, rater_id=principal.rater_id)
            if assignment is None and done == 0:
                # No completion code for work not done: a full study is not a finished rater.
                raise Conflict(
                    f"study {study!r} has no items left for a new rater (every item has its "
                    "raters); please tell the researcher who sent you the link"
                )
            if assignment is None and not participant:
                code = set_completion_code(s, rater_id=principal.rater_id, code=new_completion_code())
                return Finished(completion_code=code, done=done, total=total)
        if assignment is None:  # a participant: every check answered (pending_check), so finish
            code, _url = participant_steps.finish(self, principal)
            return Finished(completion_code=code, done=done, total=total)
        return assignment, done, total

    def _explanation_rows(self, ctx: StudyContext, *, item_id: int, methods: list[str]) -> list[Any]:
        """Each method's Explanation row, None (could not be computed) or ``PENDING`` (still
        being computed), waiting at most the worker's ``wait_s`` for all of them together. No database
        session is open while waiting."""
        deadline = time.monotonic() + self.worker.wait_s
        rows: list[Any] = []
        for method in methods:
            try:
                rows.append(
                    explanation_row(
                        self.settings,
                        self.worker,
                        ctx,
                        item_id=item_id,
                        method=method,
                        timeout=deadline - time.monotonic(),
                    )
                )
            except ExplanationPending:
                rows.append(PENDING)
        return rows

    # Store an answer (``answers.submit``: checked, idempotent, on disk before it is acknowledged).
    submit = answers_module.submit

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
        row = explanation_row(  # raises ExplanationPending after the worker's wait_s (no session open)
            self.settings,
            self.worker,
            ctx,
            item_id=assignment.item_id,
            method=methods[index],
            timeout=self.worker.wait_s,
        )
        picture = self._explanation_file(ctx, principal, row, item_id=assignment.item_id)
        if picture is None:
            raise NotFoundError("this explanation is not available")
        return picture

    def _explanation_file(
        self, ctx: StudyContext, principal: Principal, row: Any, *, item_id: int,
        item_path: Path | None = None,
    ) -> Path | None:
        """The picture a rater sees of ``row`` (None: not to be had): twins without their classes
        where the study hides the prediction, heatmaps in the study's colour map."""
        if row is None or row is PENDING or not row.overlay_path:
            return None
        if row.neighbours and not ctx.config.show_prediction:
            with read_session(self.settings) as s:
                relative = self._unlabelled.path(s, row, item_id=item_id)
            return existing_file(self.settings.artifacts_dir, relative)
        colormap = ctx.config.display.colormap
        if colormap != recolour.DEFAULT_CMAP:  # the study's heatmap colours
            item = item_path or files.item_image(self.settings, principal, item_id=item_id)
            return recolour.overlay_in(self.settings, row, item_path=item, colormap=colormap)
        return existing_file(self.settings.artifacts_dir, row.overlay_path)
