"""Invite links: single-rater links into a study, made by staff and accepted by raters.

Invite tokens are 256-bit random strings of which only the sha256 is stored (``auth.hash_token``).
Every invite expires, after ``TRUSTLAB_INVITE_DAYS`` (14) days unless told otherwise. A link study
takes no invites: its participants come through its public link (consent, instructions, practice).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta

from trustlab.clock import utc_now
from trustlab.config import Settings
from trustlab.db.engine import unit_of_work
from trustlab.db.queries.studies import get_study, get_study_by_id
from trustlab.db.queries.times import as_utc
from trustlab.db.queries.users import (
    add_auth_token,
    add_invites,
    claim_invite_for_new_rater,
    get_rater,
    invite_by_hash,
    purge_expired_tokens,
)
from trustlab.platform.accounts.auth import (
    RATER_TOKEN_TTL,
    hash_token,
    new_token,
    positive_env,
    validate_pid,
)
from trustlab.platform.errors import (
    Conflict,
    Forbidden,
    Gone,
    NotAuthenticated,
    PlatformError,
    lookups_as_404,
)

DEFAULT_INVITE_DAYS = 14.0
INVITE_DAYS_ENV = "TRUSTLAB_INVITE_DAYS"


@dataclass(frozen=True)
class AcceptedInvite:
    token: str
    rater_id: int
    study: str


@dataclass(frozen=True)
class InviteLink:
    token: str
    url: str


def default_invite_days() -> float:
    """Days an invite stays valid unless told otherwise: ``TRUSTLAB_INVITE_DAYS``, else 14."""
    return positive_env(INVITE_DAYS_ENV, DEFAULT_INVITE_DAYS)


def create_invites(
    settings: Settings,
    *,
    study: str,
    n: int,
    expires_hours: float | None = None,
    expires_days: float | None = None,
    simulated: bool = False,
    base_url: str = "http://127.0.0.1:7860",
) -> list[InviteLink]:
    """Make ``n`` single-rater invite links for a study; only the tokens' hashes are stored.

    The links expire after ``expires_hours``, else ``expires_days``, else ``default_invite_days()``.
    simulated: the raters these links make are marked simulated (the rater simulator's invites);
    the flag is stored here, never taken from the client that accepts the invite.
    Raises LinkStudyInvite (409) for a link study (its participants come by its public link,
    through consent, instructions and practice), unless ``simulated``.
    """
    if n < 1:
        raise PlatformError(f"Ask for at least one invite link (--n {n} was given).")
    if expires_hours is not None:
        lifetime = timedelta(hours=expires_hours)
    else:
        lifetime = timedelta(days=expires_days if expires_days is not None else default_invite_days())
    if lifetime <= timedelta(0):
        raise PlatformError("An invite's lifetime must be positive (--expires-days / --expires-hours).")
    expires_at = utc_now() + lifetime
    tokens = [new_token() for _ in range(n)]
    with unit_of_work(settings) as s:
        with lookups_as_404(sentence=True):  # the storage layer's words, as a sentence
            study_row = get_study(s, name=study)
        if not simulated:
            _refuse_link_study(study_row)
        add_invites(
            s,
            study_id=study_row.id,
            token_hashes=[hash_token(t) for t in tokens],
            expires_at=expires_at,
            simulated=simulated,
        )
    base = base_url.rstrip("/")
    return [InviteLink(token=t, url=f"{base}/?invite={t}") for t in tokens]


class LinkStudyInvite(Conflict):
    """409: invites into a link study would skip its consent, instructions and practice."""


def _refuse_link_study(study_row, *, accepting: bool = False) -> None:
    """A link study is joined only through its public link, which goes through consent,
    instructions and practice; an invite would skip them (simulated raters excepted: the simulator's
    robots need no consent, and their judgements are marked simulated). ``accepting``: the message
    is for the person who opened an invite made before invites were refused."""
    # The stored config's own field (``recruitment.mode``, validated at ``study create``): reading
    # the whole config here would refuse invites to studies whose other fields have since changed.
    if ((study_row.config or {}).get("recruitment") or {}).get("mode") != "link":
        return
    if accepting:
        raise LinkStudyInvite(
            "This invite link cannot be used: the study is joined through its own study link, which "
            "asks for your consent first. Please open the study again from the site that sent you."
        )
    raise LinkStudyInvite(
        f"Study {study_row.name!r} takes participants through its public link (recruitment.mode: "
        f"link), which asks for consent and shows the instructions and practice first; an invite "
        f"would skip them. Share the link from `trustlab study link {study_row.name}` instead."
    )


def accept_invite(settings: Settings, *, invite: str, pid: str | None = None) -> AcceptedInvite:
    """Exchange an invite token for a bearer token.

    The first acceptance creates the invite's one rater (recording ``pid``, and ``simulated`` as
    the invite says); opening the same link again (a reload, another device) signs that same rater
    in again, so raters resume where they stopped. Raises InvalidAnswer for a bad pid,
    NotAuthenticated for an unknown token, Gone for an expired one, Conflict (409) when the study
    has closed or a new rater would enter a link study, and Forbidden when the rater was disabled.
    """
    pid = validate_pid(pid)
    now = utc_now()
    with unit_of_work(settings) as s:
        row = invite_by_hash(s, token_hash=hash_token(invite or ""))
        if row is None:
            raise NotAuthenticated("This invite link is not valid. Check that you copied the whole link.")
        if row.expires_at is not None and as_utc(row.expires_at) <= now:
            raise Gone("This invite link has expired. Ask the study team for a new one.")
        study = get_study_by_id(s, study_id=row.study_id)
        # A draft study's link works (the rater is told to come back once it opens); a closed
        # study's link issues no more tokens.
        if study.status == "closed":
            raise Conflict(f"The study {study.name!r} has closed and takes no more answers. Thank you.")
        rater_id = row.rater_id
        if rater_id is None:
            if not row.simulated:  # an invite made before they were refused for link studies
                _refuse_link_study(study, accepting=True)
            rater_id = claim_invite_for_new_rater(
                s,
                invite_id=row.id,
                username=f"rater-{secrets.token_hex(6)}",
                study_id=row.study_id,
                now=now,
                external_pid=pid,
                simulated=row.simulated,
            )
        elif get_rater(s, rater_id=rater_id).disabled_at is not None:
            raise Forbidden("Your participation in this study was ended by the study team.")
        purge_expired_tokens(s, now=now)
        token = new_token()
        add_auth_token(s, rater_id=rater_id, token_hash=hash_token(token), expires_at=now + RATER_TOKEN_TTL)
        return AcceptedInvite(token=token, rater_id=rater_id, study=study.name)

