"""The REST routes of recruitment, for a link study's participants: join by participant id, the
public study facts, consent declined, instructions opened, practice answers with feedback,
attention answers and the next step. Thin: parse, call ``recruitment.join`` / ``recruitment.steps``.

``POST /studies/{study}/join`` answers 201 with a token for a new participant, 200 for a known pid
(the same rater: resume), 403 when consent is required and not given (with ``screenout_url``; nothing
is stored), 409 when the study is full or not open, 422 when the link still holds the platform's
placeholders (opened directly, not through the platform; nothing is stored).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Response
from fastapi.responses import FileResponse, JSONResponse
from pydantic import BaseModel, Field

from trustlab.platform.accounts import auth
from trustlab.platform.api.deps import ERROR_RESPONSES, IMAGE_RESPONSES, PrincipalDep, ServicesDep
from trustlab.platform.recruitment import join as joining
from trustlab.platform.recruitment import steps as participant_steps
from trustlab.platform.routes import API_PREFIX

# The most practice items or attention checks a study can have that a path may name.
MAX_STEP_INDEX = 10_000
IndexPath = Annotated[int, Path(ge=0, le=MAX_STEP_INDEX)]

router = APIRouter(prefix=API_PREFIX, responses=ERROR_RESPONSES, tags=["recruitment"])


class JoinIn(BaseModel):
    pid: str | None = Field(default=None, max_length=auth.MAX_PID_LENGTH, description="participant id")
    params: dict[str, str | int | float | None] = Field(
        default_factory=dict, description="the link's query parameters (PROLIFIC_PID, STUDY_ID, ...)"
    )
    consent: bool | None = None


class JoinOut(BaseModel):
    token: str
    rater_id: int
    study: str
    status: str


class AnswersIn(BaseModel):
    answers: dict[str, Any]


@router.post(
    "/studies/{study}/join",
    status_code=201,
    response_model=JoinOut,
    responses={
        200: {"description": "a known participant id: the same rater, a new token (resume)"},
        403: {"description": "consent is required and was not given; `screenout_url`; nothing stored"},
        409: {"description": "the study is full or not open"},
        422: {"description": "no participant id, or a placeholder ({{%PROLIFIC_PID%}}); nothing stored"},
    },
)
def join(study: str, body: JoinIn, services: ServicesDep, response: Response) -> Any:
    """Join a link study as a participant (one rater per participant id)."""
    try:
        result = joining.join_study(
            services, study=study, pid=body.pid, params=dict(body.params), consent=body.consent
        )
    except joining.ConsentRequired as exc:
        return JSONResponse({"detail": exc.message, "screenout_url": exc.screenout_url}, status_code=403)
    if not result.created:
        response.status_code = 200
    return JoinOut(token=result.token, rater_id=result.rater_id, study=result.study, status=result.status)


@router.get("/studies/{study}/entry")
def entry(study: str, services: ServicesDep) -> dict[str, Any]:
    """The public facts of a link study (consent and instructions text, texts, whether full)."""
    return joining.study_entry(services, study=study).__dict__


@router.post("/studies/{study}/decline")
def decline(study: str, services: ServicesDep) -> dict[str, Any]:
    """Consent declined: nothing is stored; the screen-out URL to go to (or null)."""
    return {"screenout_url": joining.decline_consent(services, study=study)}


@router.get("/step")
def step(principal: PrincipalDep, services: ServicesDep) -> dict[str, Any]:
    """What the participant should see now: {kind: practice | attention | item | finished |
    screened_out | timed_out | returned, index, total, done, items_total, url, code, prompt}."""
    return participant_steps.next_step(services, principal).__dict__


@router.post("/instructions/opened")
def instructions_opened(principal: PrincipalDep, services: ServicesDep) -> dict[str, Any]:
    """Count one opening of the instructions; returns {text, opened}."""
    return participant_steps.open_instructions(services, principal)


@router.get("/practice/{index}")
def practice(index: IndexPath, principal: PrincipalDep, services: ServicesDep) -> dict[str, Any]:
    """The index-th practice item (image_url, prediction, questions); never analysed."""
    payload = participant_steps.practice_item(services, principal, index=index)
    payload.pop("image_path", None)
    payload["explanations"] = [{"title": e["title"]} for e in payload["explanations"]]
    return payload


@router.post("/practice/{index}/answer")
def practice_answer(
    index: IndexPath, body: AnswersIn, principal: PrincipalDep, services: ServicesDep
) -> dict[str, Any]:
    """Store a practice answer; returns {correct, right_answers, feedback}."""
    return participant_steps.answer_practice(services, principal, index=index, answers=body.answers)


@router.get("/attention/{index}")
def attention(index: IndexPath, principal: PrincipalDep, services: ServicesDep) -> dict[str, Any]:
    """The index-th attention check: {index, total, prompt, questions}."""
    return participant_steps.attention_check(services, principal, index=index)


@router.post("/attention/{index}/answer")
def attention_answer(
    index: IndexPath, body: AnswersIn, principal: PrincipalDep, services: ServicesDep
) -> dict[str, Any]:
    """Store an attention check's answer; returns {status} (passing is not told)."""
    return participant_steps.answer_attention(services, principal, index=index, answers=body.answers)


@router.get("/studies/{study}/practice/{index}/image", response_class=FileResponse, responses=IMAGE_RESPONSES)
def practice_image(
    study: str, index: IndexPath, principal: PrincipalDep, services: ServicesDep
) -> FileResponse:
    path = participant_steps.practice_image(services, principal, study=study, index=index)
    return FileResponse(path, media_type="image/png")


@router.get(
    "/studies/{study}/participants.csv",
    response_class=Response,
    responses={200: {"content": {"text/csv": {"schema": {"type": "string"}}}, "description": "the CSV"}},
)
def participants_csv(study: str, principal: PrincipalDep, services: ServicesDep) -> Response:
    """The participants of a link study as CSV, for approving and paying (researchers)."""
    text = joining.participants_csv(services, principal, study=study)
    name = "".join(c if c.isalnum() or c in "-_." else "_" for c in study)[:100] or "study"
    return Response(
        text,
        media_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}-participants.csv"'},
    )
