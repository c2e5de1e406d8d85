"""The rater's routes under /api/v1: sign-in (staff password, rater invite), who am I, the next
item, storing an answer, and the image files behind their access rules. Routes are thin: parse,
call a service; errors become HTTP statuses in ``deps.platform_error_handler``.

Finished raters: ``GET /studies/{study}/next`` answers **204 No Content** with the completion code
in the ``X-Completion-Code`` header (and progress in ``X-Progress-Done`` / ``X-Progress-Total``).

Explanations still being computed: ``GET /studies/{study}/next`` answers **202 Accepted** with the
item's payload, ``pending: true``, ``retry_after_s`` and a ``Retry-After`` header, each unfinished
explanation with ``status: "pending"`` and no image; ask again after that many seconds (the server
goes on computing meanwhile) and answer only once the reply is 200 (every explanation shown).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import FileResponse, JSONResponse
from fastapi.security import HTTPAuthorizationCredentials
from pydantic import BaseModel, Field

from trustlab.platform.accounts import auth, invites
from trustlab.platform.api.deps import (
    ERROR_RESPONSES,
    IMAGE_CACHE_HEADERS,
    IMAGE_RESPONSES,
    MAX_ID,
    RETRY_AFTER_HEADER,
    IdPath,
    PrincipalDep,
    ServicesDep,
    bearer,
)
from trustlab.platform.content.on_demand import RETRY_AFTER_S
from trustlab.platform.content.study_cache import rater_study_or_none
from trustlab.platform.content.worker import ExplanationPending
from trustlab.platform.recruitment import steps as participant_steps
from trustlab.platform.routes import API_PREFIX
from trustlab.platform.services.rater import Finished


class LoginIn(BaseModel):
    username: str
    password: str


class LoginOut(BaseModel):
    token: str
    role: str


class InviteIn(BaseModel):
    # Whether a rater is simulated is stored on the invite when it is made (`trustlab study invite
    # --simulated`), never taken from the client: a `simulated` field sent here is ignored.
    invite: str
    pid: str | None = Field(
        default=None, max_length=auth.MAX_PID_LENGTH, description="external participant id (printable)"
    )


class InviteOut(BaseModel):
    token: str
    rater_id: int
    study: str


class JudgementIn(BaseModel):
    assignment_id: int = Field(ge=1, le=MAX_ID)
    answers: dict[str, Any]
    idempotency_key: str
    client_elapsed_ms: float | None = None


class JudgementOut(BaseModel):
    judgement_id: int


router = APIRouter(prefix=API_PREFIX, responses=ERROR_RESPONSES)


@router.post(
    "/login",
    response_model=LoginOut,
    tags=["auth"],
    responses={
        401: {"description": "wrong user name or password"},
        403: {"description": "the account is disabled"},
        429: {"description": "too many failed sign-ins for this name or address; see Retry-After"},
        503: {"description": "every password-hashing slot is busy; see Retry-After"},
    },
)
def login(body: LoginIn, request: Request, services: ServicesDep) -> LoginOut:
    """Staff sign-in with user name and password (10 failures a minute per name or address: 429)."""
    result = auth.login(
        services.settings,
        username=body.username,
        password=body.password,
        address=request.client.host if request.client else None,
        throttle=services.login_throttle,
    )
    return LoginOut(token=result.token, role=result.role)


@router.post(
    "/logout",
    status_code=204,
    tags=["auth"],
    responses={401: {"description": "no valid token was sent"}},
)
def logout(
    principal: PrincipalDep,
    services: ServicesDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Response:
    """Revoke the token this request was sent with (the account's other tokens stay valid)."""
    # PrincipalDep has already answered 401 unless the token was valid.
    auth.logout(services.settings, credentials.credentials if credentials is not None else None)
    return Response(status_code=204)


@router.post(
    "/invites/accept",
    response_model=InviteOut,
    tags=["auth"],
    responses={
        401: {"description": "unknown invite"},
        403: {"description": "the invite's rater was disabled"},
        409: {"description": "the study is not open"},
        410: {"description": "the invite expired"},
    },
)
def accept_invite(body: InviteIn, services: ServicesDep) -> InviteOut:
    """Exchange an invite token for a bearer token (again later: the same rater, a new token)."""
    result = invites.accept_invite(services.settings, invite=body.invite, pid=body.pid)
    return InviteOut(token=result.token, rater_id=result.rater_id, study=result.study)


@router.get("/me", tags=["auth"])
def me(principal: PrincipalDep, services: ServicesDep) -> dict[str, Any]:
    """Who is signed in; a rater also gets {study, done, total, status (started | completed |
    screened_out | timed_out | returned), completion_code, completion_url} (code and URL once
    finished; ``participant_steps.rater_status``)."""
    out: dict[str, Any] = {
        "rater_id": principal.rater_id,
        "username": principal.username,
        "handle": principal.username,  # the older name of "username", kept for existing clients
        "role": principal.role,
    }
    if principal.is_staff or principal.study_id is None:
        ctx = rater_study_or_none(services, principal)
        return {**out, "study": ctx.name if ctx is not None else None}
    return {**out, **participant_steps.rater_status(services, principal)}


@router.get(
    "/studies/{study}/next",
    tags=["rating"],
    responses={
        202: {
            "description": "an explanation is still being computed: the item with `pending: true`, "
            "`retry_after_s` and each unfinished explanation's `status: \"pending\"`; ask again after "
            "Retry-After seconds and answer only after a 200",
            "headers": RETRY_AFTER_HEADER,
        },
        204: {"description": "finished; completion code in the X-Completion-Code header"},
        404: {"description": "not the caller's study (no other study is named)"},
    },
)
def next_item(study: str, principal: PrincipalDep, services: ServicesDep) -> Any:
    """The rater's current item: image, prediction (if shown), explanations (each with `status`
    ready | pending | failed), questions, progress. 200 when every explanation is ready or failed;
    202 while one is still being computed (poll)."""
    result = services.next_item(principal, study=study)
    if isinstance(result, dict) and result.get("pending"):
        return JSONResponse(
            result, status_code=202, headers={"Retry-After": str(result["retry_after_s"])}
        )
    if isinstance(result, Finished):
        return Response(
            status_code=204,
            headers={
                "X-Completion-Code": result.completion_code,
                "X-Progress-Done": str(result.done),
                "X-Progress-Total": str(result.total),
            },
        )
    return result


@router.post(
    "/judgements",
    status_code=201,
    response_model=JudgementOut,
    tags=["rating"],
    responses={
        200: {"description": "the same idempotency_key was stored before: its id"},
        422: {"description": "an answer the study does not allow; `field` names it"},
    },
)
def post_judgement(
    body: JudgementIn, principal: PrincipalDep, services: ServicesDep, response: Response
) -> Any:
    """Store an answer. Acknowledged (201) only after the transaction commits."""
    judgement_id, created = services.submit(
        principal,
        assignment_id=body.assignment_id,
        answers=body.answers,
        idempotency_key=body.idempotency_key,
        client_elapsed_ms=body.client_elapsed_ms,
    )
    if not created:
        response.status_code = 200
    return JudgementOut(judgement_id=judgement_id)


@router.get("/items/{item_id}/image", tags=["files"], response_class=FileResponse, responses=IMAGE_RESPONSES)
def item_image(item_id: IdPath, principal: PrincipalDep, services: ServicesDep) -> FileResponse:
    path = services.item_image(principal, item_id=item_id)
    return FileResponse(path, media_type="image/png", headers=IMAGE_CACHE_HEADERS)


@router.get(
    "/assignments/{assignment_id}/explanations/{index}/image",
    tags=["files"],
    response_class=FileResponse,
    responses={
        **IMAGE_RESPONSES,
        202: {
            "description": "still being computed: {pending: true, retry_after_s}; ask again later",
            "headers": RETRY_AFTER_HEADER,
        },
    },
)
def assignment_explanation_image(
    assignment_id: IdPath, index: int, principal: PrincipalDep, services: ServicesDep
) -> Response:
    """The picture of the ``index``-th explanation of an assignment (202 while it is computed)."""
    try:
        path = services.assignment_explanation_image(principal, assignment_id=assignment_id, index=index)
    except ExplanationPending:
        return JSONResponse(
            {"pending": True, "retry_after_s": RETRY_AFTER_S},
            status_code=202,
            headers={"Retry-After": str(RETRY_AFTER_S)},
        )
    return FileResponse(path, media_type="image/png", headers=IMAGE_CACHE_HEADERS)


@router.get(
    "/explanations/{explanation_id}/image",
    tags=["files"],
    response_class=FileResponse,
    responses=IMAGE_RESPONSES,
)
def explanation_image(explanation_id: IdPath, principal: PrincipalDep, services: ServicesDep) -> FileResponse:
    """Any explanation overlay (researchers and curators)."""
    path = services.explanation_image(principal, explanation_id=explanation_id)
    return FileResponse(path, media_type="image/png", headers=IMAGE_CACHE_HEADERS)
