"""Recruitment: joining a link study through its public link, one rater per participant id, with
consent, instructions, practice with feedback, attention checks, completion and screen-out.

Plain functions over ``StudyLookup`` (the platform's ``Services``; the API in ``api.recruitment`` and
the Gradio rater steps both call them); each opens short units of work. The rules (statuses, codes,
URLs, when a check is due) live in ``trustlab.studies.recruitment.rules``; this module applies them
to requests.

The rater's way through a link study, as ``next_step`` reports it: ``practice`` (each practice
item once, with the right answer as feedback) -> ``item`` (the study's items, via ``Services.next_item``)
with ``attention`` checks due at even intervals -> ``finished`` (redirect to the completion URL).
``screened_out``, ``timed_out`` and ``returned`` end the way early. Consent is given when joining
(declining stores nothing: ``decline_consent``); instructions are shown before the first step and
reopened with ``open_instructions`` from any screen.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from trustlab.clock import utc_now
from trustlab.db.engine import DbSession, read_session, unit_of_work
from trustlab.db.queries.participants import (
    add_participant,
    count_participants,
    participant_by_pid,
    participant_for_rater,
)
from trustlab.db.queries.studies import get_study, lock_study
from trustlab.db.queries.users import add_auth_token, add_user, get_rater, purge_expired_tokens
from trustlab.platform.accounts import auth
from trustlab.platform.accounts.auth import Principal
from trustlab.platform.content.study_cache import StudyContext, StudyLookup, rater_study
from trustlab.platform.errors import (
    Conflict,
    Forbidden,
    InvalidAnswer,
    NotFoundError,
    PlatformError,
    lookups_as_404,
)
from trustlab.studies.config.study import StudyConfig
from trustlab.studies.config.texts import rater_texts
from trustlab.studies.recruitment import participants, rules


class NotAParticipant(NotFoundError):
    """404: the rater came by invite (or is staff): there are no participant steps."""


class StudyFull(Conflict):
    """409: every place of the study is taken (``recruitment.max_participants``)."""


class UnexpandedLink(InvalidAnswer):
    """422: the link still holds the platform's placeholders (``{{%PROLIFIC_PID%}}``): it was opened
    directly, not through the platform, so it carries no participant id. Nothing is stored."""

    def __init__(self, field: str, message: str) -> None:
        PlatformError.__init__(self, message)  # a sentence, not InvalidAnswer's "field: ..."
        self.field = field


# What a platform replaces in a study URL ({{%PROLIFIC_PID%}}, ${workerId}, %PID%, {pid}, <pid>) and
# the stand-in `trustlab study link` prints for the generic platform.
_PLACEHOLDER = re.compile(r"\{.*\}|%[A-Za-z_][\w .-]*%|^<[^<>]*>$|^\[\[.*\]\]$")
_PLACEHOLDER_WORDS = frozenset({"PARTICIPANT_ID"})


def refuse_placeholders(values: dict[str, str | None]) -> None:
    """Raise UnexpandedLink when a link parameter (the participant id, STUDY_ID, ...) is still the
    platform's placeholder rather than a value the platform filled in."""
    for name, value in values.items():
        if value and (_PLACEHOLDER.search(value) or value.strip().upper() in _PLACEHOLDER_WORDS):
            raise UnexpandedLink(
                name,
                f"The link's {name} is {value}, a placeholder that the recruiting platform fills in "
                f"for each participant: this link was opened directly (as 'trustlab study link' "
                f"prints it), not through the platform. Nothing was stored and no place was used. To "
                f"try the study yourself, use the platform's preview, or put a made-up id in place "
                f"of {value}.",
            )


class ConsentRequired(Forbidden):
    """403: the study asks for consent and the participant has not given it."""

    def __init__(self, message: str, screenout_url: str | None) -> None:
        super().__init__(message)
        self.screenout_url = screenout_url


@dataclass(frozen=True)
class StudyEntry:
    """What the public link's first screen needs, before the participant joins (no secrets: not the
    codes). ``consent`` / ``instructions``: Markdown or None; ``texts``: every rater-facing string."""

    study: str
    status: str
    platform: str
    pid_param: str
    consent: str | None
    instructions: str | None
    practice_total: int
    attention_total: int
    max_minutes: float | None
    full: bool
    texts: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class JoinResult:
    token: str
    rater_id: int
    study: str
    created: bool  # True: a new participant (201); False: a known pid signed in again (200)
    status: str


@dataclass(frozen=True)
class Step:
    """What the participant should see now: ``kind`` is practice | attention | item | finished |
    screened_out | timed_out | returned; ``index``/``total`` number practice items and attention
    checks; ``url``: where to send the participant (finished, screened out); ``code``: the completion
    code (finished only); ``prompt``: the attention check's instruction."""

    kind: str
    index: int | None = None
    total: int | None = None
    done: int = 0
    items_total: int = 0
    url: str | None = None
    code: str | None = None
    prompt: str | None = None


def _link_study(services: StudyLookup, study: str) -> StudyContext:
    """The link study called ``study``; else one plain 404 that names no other study and does
    not tell an unknown study from an invite-only one (anyone may call the public routes). The
    context may be seconds old (a config never changes); its status is read fresh where it matters."""
    try:
        ctx = services.study(name=study)
    except NotFoundError:
        ctx = None
    if ctx is None or not rules.is_link_study(ctx.config):
        raise NotFoundError(f"there is no study called {study!r} to join by link; check the link you opened")
    return ctx


def study_entry(services: StudyLookup, *, study: str) -> StudyEntry:
    """The public facts of a link study (NotFoundError for an unknown study or one that takes
    raters by invite)."""
    ctx = _link_study(services, study)
    config = ctx.config
    full = False
    if config.recruitment.max_participants is not None:
        with read_session(services.settings) as s:
            held = count_participants(s, study_id=ctx.id, statuses=rules.PLACE_HOLDING)
        full = held >= config.recruitment.max_participants
    return StudyEntry(
        study=ctx.name,
        status=ctx.status,
        platform=config.recruitment.platform,
        pid_param=config.recruitment.pid_param,
        consent=config.consent.text if config.consent else None,
        instructions=config.instructions.text if config.instructions else None,
        practice_total=config.practice.count,
        attention_total=len(config.attention),
        max_minutes=config.max_minutes,
        full=full,
        texts=rater_texts(config.texts),
    )


def decline_consent(services: StudyLookup, *, study: str) -> str | None:
    """A participant declined consent: nothing is stored; returns the screen-out URL (or None)."""
    ctx = _link_study(services, study)
    with unit_of_work(services.settings) as s:  # the codes may be generated now (not about the person)
        codes = rules.ensure_codes(s, study_id=ctx.id, config=ctx.config, now=utc_now())
    return rules.screenout_url(ctx.config, codes=codes)


def join_study(
    services: StudyLookup,
    *,
    study: str,
    pid: str | None,
    params: dict[str, Any] | None = None,
    consent: bool | None = None,
) -> JoinResult:
    """Admit a participant of a link study, or sign a known one in again.

    ``pid``: the participant id (else taken from ``params`` by the platform's parameter name);
    ``params``: the link's query parameters (the platform's are stored). The same pid again returns
    the same rater with a new token (``created`` False), whatever its status. A new pid is admitted
    while the study is open and has a free place: concurrent joins are serialised on the study's row
    lock (PostgreSQL) or SQLite's write lock, so ``max_participants`` is never exceeded.

    Raises InvalidAnswer (422) for a missing or bad pid (UnexpandedLink: a platform placeholder such
    as ``{{%PROLIFIC_PID%}}``, the link opened directly), NotFoundError for an unknown or invite-only
    study, ConsentRequired (403) when the study asks for consent and ``consent`` is not true (nothing
    stored), StudyFull (409) and Conflict (409) when the study is not open.
    """
    ctx = _link_study(services, study)
    pid, platform_params = _participant_id(ctx.config, pid, params or {})
    now = utc_now()
    # The unit ends cleanly even when the join is refused, so that what it did for the study (its
    # codes, sweeping timed-out sessions) is kept; the refusal is raised after it.
    with unit_of_work(services.settings) as s:
        known = _known_participant(s, ctx, pid)
        study_row = get_study(s, name=ctx.name)
        codes = rules.ensure_codes(s, study_id=ctx.id, config=ctx.config, now=now)
        if known is not None:
            if get_rater(s, rater_id=known.rater_id).disabled_at is not None:
                raise Forbidden("your participation in this study was ended by the study team")
            token = _issue_token(s, known.rater_id, now)
            return JoinResult(token, known.rater_id, ctx.name, False, known.status)
        refusal = _refusal(
            s, ctx, study_row.status, consent=consent, now=now, codes=codes, pid=pid, params=platform_params
        )
        if refusal is None:
            rater_id = _admit(s, ctx, pid=pid, params=platform_params, now=now)
            return JoinResult(_issue_token(s, rater_id, now), rater_id, ctx.name, True, "started")
    raise refusal


def _participant_id(
    config: StudyConfig, pid: str | None, params: dict[str, Any]
) -> tuple[str, dict[str, str]]:
    """The participant id (given, else the link's parameter of the platform's name) and the
    platform's parameters to store; InvalidAnswer (422) for a missing, bad or placeholder id."""
    from_params, platform_params = rules.split_params(config, params)
    checked = auth.validate_pid(pid or from_params)
    refuse_placeholders({config.recruitment.pid_param: checked, **platform_params})
    if checked is None:
        raise InvalidAnswer("pid", f"the link has no participant id ({config.recruitment.pid_param})")
    return checked, platform_params


def _known_participant(session: DbSession, ctx: StudyContext, pid: str) -> Any:
    """The study's participant with this id, or None. A known pid (a reload, another device) needs
    no lock; a new one waits for the study's lock (one admission, and one assignment list, at a time
    per study), then the pid is looked up again."""
    known = participant_by_pid(session, study_id=ctx.id, pid=pid)
    if known is None:
        lock_study(session, study_id=ctx.id)
        known = participant_by_pid(session, study_id=ctx.id, pid=pid)
    return known


def _admit(
    session: DbSession, ctx: StudyContext, *, pid: str, params: dict[str, str], now: datetime
) -> int:
    """A new participant: an account of its own (a random user name) bound to the study; its id."""
    config = ctx.config
    rater = add_user(
        session, username=f"p-{secrets.token_hex(6)}", role="rater", study_id=ctx.id, external_pid=pid
    )
    add_participant(
        session,
        study_id=ctx.id,
        rater_id=rater.id,
        pid=pid,
        platform=config.recruitment.platform,
        params=params,
        now=now,
        consent_at=now if config.consent is not None else None,
    )
    return rater.id


def _refusal(
    session,
    ctx: StudyContext,
    status: str,
    *,
    consent: bool | None,
    now: datetime,
    codes: tuple[str, str],
    pid: str,
    params: dict[str, str],
) -> Exception | None:
    """Why a new participant cannot join (None: they can): consent missing, study not open, full."""
    config = ctx.config
    if config.consent is not None and consent is not True:
        return ConsentRequired(
            "this study needs your consent before you start; nothing was stored",
            rules.screenout_url(config, codes=codes, pid=pid, params=params),
        )
    if status != "open":
        return Conflict(f"study {ctx.name!r} is {status} and takes no new participants; thank you")
    sweep_timeouts(session, config, study_id=ctx.id, now=now)  # their places are free again
    limit = config.recruitment.max_participants
    if (
        limit is not None
        and count_participants(session, study_id=ctx.id, statuses=rules.PLACE_HOLDING) >= limit
    ):
        return StudyFull(f"study {ctx.name!r} is full: all {limit} places are taken; thank you")
    return None


def _issue_token(session, rater_id: int, now: datetime) -> str:
    purge_expired_tokens(session, now=now)
    token = auth.new_token()
    add_auth_token(
        session, rater_id=rater_id, token_hash=auth.hash_token(token), expires_at=now + auth.RATER_TOKEN_TTL
    )
    return token


def participant_of(session, principal: Principal, *, for_update: bool = False):
    if principal.is_staff or principal.study_id is None:
        raise NotAParticipant("only participants of a link study have this")
    participant = participant_for_rater(session, rater_id=principal.rater_id, for_update=for_update)
    if participant is None:
        raise NotAParticipant("you joined by invite: this study has no participant steps for you")
    return participant


def end_participation(
    session, participant, *, status: str, now: datetime, reason: str | None = None, code: str | None = None
) -> bool:
    """``studies.recruitment.end_participation`` (end a started participant; release their items)."""
    return rules.end_participation(session, participant, status=status, now=now, reason=reason, code=code)


def refresh_status(services: StudyLookup, principal: Principal) -> str | None:
    """The participant's status, after ending a started session that ran past ``max_minutes``
    (its unfinished items are released); None for an invited rater. The services call it first in
    ``next_item`` and ``submit``."""
    if principal.is_staff or principal.study_id is None:
        return None
    ctx = rater_study(services, principal)
    if not rules.is_link_study(ctx.config):
        return None
    with read_session(services.settings) as s:  # the common case reads only
        participant = participant_for_rater(s, rater_id=principal.rater_id)
    if participant is None:
        return None
    if participant.status != "started" or not rules.timed_out(
        ctx.config, started_at=participant.started_at, now=utc_now()
    ):
        return participant.status
    with unit_of_work(services.settings) as s:
        participant = participant_for_rater(s, rater_id=principal.rater_id, for_update=True)
        minutes = f"over {ctx.config.max_minutes:g} minutes"
        end_participation(s, participant, status="timed_out", now=utc_now(), reason=minutes)
        return participant_for_rater(s, rater_id=principal.rater_id).status


def sweep_timeouts(session, config, *, study_id: int, now: datetime) -> int:
    """End (timed_out) every started participant of the study past ``max_minutes`` and release their
    unfinished items, in the caller's unit; returns how many."""
    return rules.end_timed_out(session, config, study_id=study_id, now=now)


def participant_failures(services: StudyLookup, principal: Principal, *, study: str) -> list[list[Any]]:
    """Attention and gold failures per participant of a link study, live, for the researcher
    tab: rows [pid, rater, status, done, attention failures, gold failures] (none for a study that
    takes raters by invite)."""
    auth.require_role(principal, "researcher")
    with lookups_as_404():
        frame = participants.failures_frame(services.settings, study)
    return frame.astype(object).values.tolist()


def participants_csv(services: StudyLookup, principal: Principal, *, study: str) -> str:
    """The participants table (``studies.participants``) as CSV text, for researchers."""
    auth.require_role(principal, "researcher")
    try:
        with lookups_as_404():
            frame = participants.participants_frame(services.settings, study)
        return participants.participants_csv(frame)
    except participants.ParticipantsError as exc:
        raise Conflict(str(exc)) from exc
