"""Errors raised by the platform's services; each maps to one HTTP status and a clear message.

The query layer raises its own ``NotFound`` (it knows nothing of HTTP); services run their lookups
inside ``lookups_as_404`` so that it reaches the API and the UI as ``NotFoundError`` (404), in one place.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from trustlab.db.queries.errors import NotFound


class PlatformError(Exception):
    """Base class: ``status`` is the HTTP status the API answers with."""

    status = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotAuthenticated(PlatformError):
    status = 401


class Forbidden(PlatformError):
    status = 403


class NotFoundError(PlatformError):
    status = 404


class Conflict(PlatformError):
    status = 409


class Gone(PlatformError):
    """An invite that expired."""

    status = 410


class InvalidAnswer(PlatformError):
    """An answer the study's questions do not allow; ``field`` names the answer key at fault."""

    status = 422

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


class TooManyRequests(PlatformError):
    """Too many attempts: the API answers 429 with ``Retry-After: retry_after`` (whole seconds)."""

    status = 429

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = max(1, int(retry_after))


class ServerBusy(TooManyRequests):
    """Every password-hashing slot stayed busy: 503 with ``Retry-After``."""

    status = 503


@contextmanager
def lookups_as_404(message: str | None = None, *, sentence: bool = False) -> Iterator[None]:
    """Run the block's queries; a ``NotFound`` they raise becomes ``NotFoundError`` (404).

    ``message``: the 404's text (else the query's own words, which name what is known);
    ``sentence``: start it with a capital letter (for messages shown to people as a sentence)."""
    try:
        yield
    except NotFound as exc:
        text = message if message is not None else str(exc)
        raise NotFoundError(text[:1].upper() + text[1:] if sentence else text) from exc
