"""Ending access: disable or enable an account, revoke tokens, purge expired ones.

The library side of `trustlab user disable|enable` and `trustlab token revoke|purge`; sign-out of
one token is ``auth.logout``. A disabled account's tokens are deleted *and* refused by
``auth.authenticate``, so enabling it again does not bring old tokens back.
"""

from __future__ import annotations

from trustlab.clock import utc_now
from trustlab.config import Settings
from trustlab.db.engine import unit_of_work
from trustlab.db.queries.studies import get_study
from trustlab.db.queries.users import (
    purge_expired_tokens,
    revoke_rater_tokens,
    revoke_study_rater_tokens,
    set_disabled,
    user_by_username,
)
from trustlab.platform.errors import NotFoundError, PlatformError, lookups_as_404


def _rater_id(session, username: str) -> int:
    rater = user_by_username(session, username=username)
    if rater is None:
        raise NotFoundError(f"there is no user {username!r}; invited raters are named rater-… in the exports")
    return rater.id


def disable_user(settings: Settings, *, username: str) -> int:
    """Disable the account ``username``: it cannot sign in or accept its invite again, and its tokens
    are revoked at once. Returns how many tokens were revoked. Raises NotFoundError."""
    with unit_of_work(settings) as s:
        rater_id = _rater_id(s, username)
        set_disabled(s, rater_id=rater_id, disabled_at=utc_now())
        return revoke_rater_tokens(s, rater_id=rater_id)


def enable_user(settings: Settings, *, username: str) -> None:
    """Let a disabled account sign in again (it gets new tokens; the revoked ones stay gone)."""
    with unit_of_work(settings) as s:
        set_disabled(s, rater_id=_rater_id(s, username), disabled_at=None)


def revoke_tokens(settings: Settings, *, user: str | None = None, study: str | None = None) -> int:
    """Revoke every token of one account (``user``) or of every rater invited to ``study``.

    Exactly one of the two. Raters of an open study can get a new token from their invite link:
    close the study (or disable the rater) to keep them out. Returns how many tokens went.
    """
    if (user is None) == (study is None):
        raise PlatformError("name either a user (--user NAME) or a study (--study NAME), not both")
    with unit_of_work(settings) as s:
        if user is not None:
            return revoke_rater_tokens(s, rater_id=_rater_id(s, user))
        with lookups_as_404():
            study_id = get_study(s, name=study).id
        return revoke_study_rater_tokens(s, study_id=study_id)


def purge_tokens(settings: Settings) -> int:
    """Delete expired tokens now (sign-ins and invite acceptances also do it); returns how many."""
    with unit_of_work(settings) as s:
        return purge_expired_tokens(s, now=utc_now())
