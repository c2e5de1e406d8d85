"""Ending a session: revoke a bearer token on the server so that a copy of it stops working.

The UI's sign-out buttons call ``auth_logout``; it deletes the token's row, after which the REST API
and every UI handler answer 401 / "sign in again" for that token. Revoking an unknown, expired or
empty token is not an error (signing out twice, or after expiry, just signs out).
"""

from __future__ import annotations

from trustlab.config import Settings
from trustlab.db.engine import unit_of_work
from trustlab.db.queries.users import revoke_token
from trustlab.platform.auth import hash_token


def auth_logout(settings: Settings, token: str | None) -> None:
    """Revoke ``token`` (a rater's or a staff member's bearer token) server-side."""
    if not token:
        return
    with unit_of_work(settings) as s:
        revoke_token(s, token_hash=hash_token(token))
