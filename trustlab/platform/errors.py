"""Errors raised by the platform's services; each maps to one HTTP status and a clear message."""

from __future__ import annotations


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
