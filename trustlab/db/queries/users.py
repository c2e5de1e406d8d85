"""Queries for accounts, bearer tokens and invites.

Secrets never reach this module in clear text: callers hash passwords and tokens in
trustlab.platform.accounts.auth and store or look up only the hashes."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from trustlab.db.engine import savepoint
from trustlab.db.queries.times import as_utc
from trustlab.db.schema import (
    AuthToken,
    Invite,
    User,
)


def add_user(
    session: Session,
    *,
    username: str,
    role: str = "rater",
    secret_hash: str | None = None,
    study_id: int | None = None,
    external_pid: str | None = None,
    simulated: bool = False,
) -> User:
    """Insert a rater/staff account (flushed, so it has its id)."""
    rater = User(
        username=username,
        role=role,
        secret_hash=secret_hash,
        study_id=study_id,
        external_pid=external_pid,
        simulated=simulated,
    )
    session.add(rater)
    session.flush()
    return rater


def get_rater(session: Session, *, rater_id: int) -> User:
    """The account with this id (it must exist)."""
    return session.get_one(User, rater_id)


def user_by_username(session: Session, *, username: str) -> User | None:
    return session.scalars(select(User).where(User.username == username)).first()


def set_secret_hash(session: Session, *, rater_id: int, secret_hash: str) -> None:
    session.execute(update(User).where(User.id == rater_id).values(secret_hash=secret_hash))


def set_completion_code(session: Session, *, rater_id: int, code: str) -> str:
    """Store ``code`` unless the rater already has one; returns the stored code."""
    session.execute(
        update(User)
        .where(User.id == rater_id, User.completion_code.is_(None))
        .values(completion_code=code)
    )
    return session.scalars(select(User.completion_code).where(User.id == rater_id)).one()


def set_disabled(session: Session, *, rater_id: int, disabled_at: datetime | None) -> None:
    """Disable an account (``disabled_at`` a time) or enable it again (None)."""
    session.execute(update(User).where(User.id == rater_id).values(disabled_at=disabled_at))


def add_auth_token(session: Session, *, rater_id: int, token_hash: str, expires_at: datetime) -> AuthToken:
    token = AuthToken(rater_id=rater_id, token_hash=token_hash, expires_at=expires_at)
    session.add(token)
    session.flush()
    return token


def rater_for_token(session: Session, *, token_hash: str, now: datetime) -> User | None:
    """The enabled account holding this unexpired token, in one query."""
    query = (
        select(User, AuthToken.expires_at)
        .join(AuthToken, AuthToken.rater_id == User.id)
        .where(AuthToken.token_hash == token_hash, User.disabled_at.is_(None))
    )
    row = session.execute(query).first()
    if row is None:
        return None
    rater, expires_at = row
    if as_utc(expires_at) <= now:
        return None
    return rater


def _delete_tokens(session: Session, *where) -> int:
    # Bulk delete without syncing the session: tokens are never held as objects across a unit of work.
    statement = delete(AuthToken).where(*where).execution_options(synchronize_session=False)
    return session.execute(statement).rowcount


def revoke_token(session: Session, *, token_hash: str) -> int:
    """Delete one token; returns how many rows went (0 or 1)."""
    return _delete_tokens(session, AuthToken.token_hash == token_hash)


def revoke_rater_tokens(session: Session, *, rater_id: int) -> int:
    """Delete every token of one account; returns how many."""
    return _delete_tokens(session, AuthToken.rater_id == rater_id)


def revoke_study_rater_tokens(session: Session, *, study_id: int) -> int:
    """Delete the tokens of every rater invited to ``study_id``; returns how many."""
    return _delete_tokens(session, AuthToken.rater_id.in_(select(User.id).where(User.study_id == study_id)))


def purge_expired_tokens(session: Session, *, now: datetime) -> int:
    """Delete tokens whose expiry has passed; returns how many."""
    return _delete_tokens(session, AuthToken.expires_at <= now)


def add_invites(
    session: Session,
    *,
    study_id: int,
    token_hashes: Sequence[str],
    expires_at: datetime | None,
    simulated: bool = False,
) -> list[Invite]:
    invites = [
        Invite(study_id=study_id, token_hash=h, expires_at=expires_at, simulated=simulated)
        for h in token_hashes
    ]
    session.add_all(invites)
    session.flush()
    return invites


def invite_by_hash(session: Session, *, token_hash: str) -> Invite | None:
    return session.scalars(select(Invite).where(Invite.token_hash == token_hash)).first()


def claim_invite(session: Session, *, invite_id: int, rater_id: int, now: datetime) -> bool:
    """Bind an unclaimed invite to ``rater_id`` inside the caller's unit of work.

    Returns False when another request claimed it first, so one invite never makes two raters
    (the caller then undoes its savepoint and uses the winner's rater).
    """
    result = session.execute(
        update(Invite)
        .where(Invite.id == invite_id, Invite.rater_id.is_(None))
        .values(rater_id=rater_id, accepted_at=now)
    )
    return result.rowcount == 1


class _InviteTaken(Exception):
    """Another request bound the invite first (undoes this request's savepoint)."""


def claim_invite_for_new_rater(
    session: Session,
    *,
    invite_id: int,
    username: str,
    study_id: int,
    now: datetime,
    external_pid: str | None = None,
    simulated: bool = False,
) -> int:
    """The id of the invite's one rater: a new rater bound to the unclaimed invite, or, when a
    concurrent request claimed it first, that request's rater (this one's insert is undone by a
    savepoint, so the caller's unit of work goes on)."""
    try:
        with savepoint(session):
            rater = add_user(
                session, username=username, role="rater", study_id=study_id, external_pid=external_pid,
                simulated=simulated,
            )
            if not claim_invite(session, invite_id=invite_id, rater_id=rater.id, now=now):
                raise _InviteTaken
            return rater.id
    except _InviteTaken:
        return session.scalars(select(Invite.rater_id).where(Invite.id == invite_id)).one()
