"""What every API route shares: the bearer token and the signed-in principal, the app's
``Services``, path types for row ids, and the error answers (``PlatformError`` mapped to its HTTP
status with a ``{detail, field?}`` body), documented once so the OpenAPI spec lists them; the
schemathesis test (tests/platform/api/test_api_fuzz.py) holds every answer to the spec."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Path, Request
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field

from trustlab.platform.accounts import auth
from trustlab.platform.accounts.auth import Principal
from trustlab.platform.errors import InvalidAnswer, NotAuthenticated, PlatformError, TooManyRequests
from trustlab.platform.services.rater import Services

IMAGE_CACHE_HEADERS = {"Cache-Control": "private, max-age=3600"}
RETRY_AFTER_HEADER = {
    "Retry-After": {"description": "seconds to wait before asking again", "schema": {"type": "integer"}}
}
IMAGE_RESPONSES: dict[int | str, dict[str, Any]] = {200: {"content": {"image/png": {}}, "description": "PNG"}}
# Row ids are positive 32-bit integers in the database (PostgreSQL's integer): a number outside them
# names no row, and the driver would raise on it (a 500) instead of finding nothing.
MAX_ID = 2**31 - 1
IdPath = Annotated[int, Path(ge=1, le=MAX_ID)]

bearer = HTTPBearer(auto_error=False, description="The token from /login or /invites/accept")


def services_of(request: Request) -> Services:
    return request.app.state.services


def current_principal(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
) -> Principal:
    token = credentials.credentials if credentials is not None else None
    return auth.authenticate(services_of(request).settings, token)


PrincipalDep = Annotated[Principal, Depends(current_principal)]
ServicesDep = Annotated[Services, Depends(services_of)]


def platform_error_handler(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, PlatformError)
    body: dict[str, Any] = {"detail": exc.message}
    if isinstance(exc, InvalidAnswer):
        body["field"] = exc.field
    headers: dict[str, str] = {}
    if isinstance(exc, NotAuthenticated):
        headers["WWW-Authenticate"] = "Bearer"
    if isinstance(exc, TooManyRequests):
        headers["Retry-After"] = str(exc.retry_after)
    return JSONResponse(body, status_code=exc.status, headers=headers or None)


class ErrorOut(BaseModel):
    detail: str
    field: str | None = Field(default=None, description="the answer key at fault (422 from /judgements)")


# The error answers any route may give (PlatformError's statuses, a body that is not JSON, the limits
# on sign-in attempts and body size).
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorOut, "description": text}
    for status, text in (
        (400, "a body that is not JSON, or a request the service refuses"),
        (401, "no valid token (or wrong user name or password, or a bad invite)"),
        (403, "signed in, but this role may not do this"),
        (404, "no such study, item, assignment, explanation, dataset or proposal for this user"),
        (409, "the study, assignment or proposal is not in a state that allows this"),
        (410, "an expired invite"),
        (413, "a request body over the limit"),
        (429, "too many failed sign-ins; retry after the Retry-After header's seconds"),
    )
}
