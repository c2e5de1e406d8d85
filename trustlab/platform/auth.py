"""Accounts, passwords, bearer tokens and invites.

Passwords are hashed with scrypt (a memory-hard, slow KDF) and compared in constant time. Invite
tokens and bearer tokens are 256-bit random strings; only their sha256 is stored, which is enough
for secrets with that much entropy (a slow KDF protects guessable passwords, not random tokens).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from trustlab.config import Settings
from trustlab.db.engine import read_session, unit_of_work
from trustlab.db.queries.errors import NotFound
from trustlab.db.queries.studies import get_study, get_study_by_id
from trustlab.db.queries.times import as_utc
from trustlab.db.queries.users import (
    add_auth_token,
    add_invites,
    add_rater,
    claim_invite_for_new_rater,
    invite_by_hash,
    rater_by_handle,
    rater_for_token,
)
from trustlab.platform.errors import Conflict, Forbidden, Gone, NotAuthenticated, NotFoundError, PlatformError

log = logging.getLogger(__name__)

ROLES = ("rater", "researcher", "curator", "admin")
STAFF_ROLES = frozenset({"researcher", "curator", "admin"})

# scrypt cost: N=2**14, r=8, p=1 uses 16 MiB and ~40 ms per hash here, the interactive-login
# setting recommended by the scrypt paper; the parameters are stored with each hash.
SCRYPT_N = 2**14
SCRYPT_R = 8
SCRYPT_P = 1
SCRYPT_DKLEN = 32
SALT_BYTES = 16
TOKEN_BYTES = 32
GENERATED_PASSWORD_BYTES = 12
RATER_TOKEN_TTL = timedelta(days=30)
STAFF_TOKEN_TTL = timedelta(hours=12)
COMPLETION_CODE_BYTES = 5


def hash_password(password: str) -> str:
    """``scrypt$N$r$p$salt_hex$hash_hex`` for ``password``."""
    salt = secrets.token_bytes(SALT_BYTES)
    digest = hashlib.scrypt(
        password.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=SCRYPT_DKLEN
    )
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${salt.hex()}${digest.hex()}"


def verify_password(password: str, stored: str | None) -> bool:
    """Constant-time check of ``password`` against a stored ``hash_password`` string."""
    if not stored:
        return False
    try:
        scheme, n, r, p, salt_hex, digest_hex = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = bytes.fromhex(digest_hex)
        digest = hashlib.scrypt(
            password.encode(), salt=bytes.fromhex(salt_hex), n=int(n), r=int(r), p=int(p), dklen=len(expected)
        )
    except ValueError:
        log.warning("a stored password hash is malformed; the sign-in is refused", exc_info=True)
        return False
    return hmac.compare_digest(digest, expected)


def hash_token(token: str) -> str:
    """sha256 hex of a random token (what the database stores)."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


@dataclass(frozen=True)
class Principal:
    """Who is calling: an invited rater (bound to ``study_id``) or a staff account."""

    rater_id: int
    handle: str
    role: str
    study_id: int | None

    @property
    def is_staff(self) -> bool:
        return self.role in STAFF_ROLES


@dataclass(frozen=True)
class LoginResult:
    token: str
    role: str
    rater_id: int


@dataclass(frozen=True)
class AcceptedInvite:
    token: str
    rater_id: int
    study: str


@dataclass(frozen=True)
class InviteLink:
    token: str
    url: str


def _now() -> datetime:
    return datetime.now(UTC)


def create_user(
    settings: Settings, *, handle: str, role: str = "researcher", password: str | None = None
) -> tuple[int, str]:
    """Create a staff (or rater) account; returns ``(rater_id, password)``.

    A password is generated when none is given. Raises Conflict if the handle is taken and
    PlatformError for an unknown role.
    """
    if role not in ROLES:
        raise PlatformError(f"role {role!r} is unknown; use one of {', '.join(ROLES)}")
    if not handle or len(handle) > 200:
        raise PlatformError("user name must be 1-200 characters")
    password = password or secrets.token_urlsafe(GENERATED_PASSWORD_BYTES)
    with unit_of_work(settings) as s:
        if rater_by_handle(s, handle=handle) is not None:
            raise Conflict(f"user {handle!r} already exists; pick another name")
        rater = add_rater(s, handle=handle, role=role, secret_hash=hash_password(password))
        return rater.id, password


def login(settings: Settings, *, username: str, password: str) -> LoginResult:
    """Check a staff password and issue a bearer token. Raises NotAuthenticated."""
    with unit_of_work(settings) as s:
        rater = rater_by_handle(s, handle=username)
        # Hash even for unknown users so that timing does not tell which user names exist.
        stored = rater.secret_hash if rater is not None else _DUMMY_HASH
        if not verify_password(password, stored) or rater is None:
            raise NotAuthenticated("wrong user name or password")
        token = new_token()
        ttl = STAFF_TOKEN_TTL if rater.role in STAFF_ROLES else RATER_TOKEN_TTL
        add_auth_token(s, rater_id=rater.id, token_hash=hash_token(token), expires_at=_now() + ttl)
        return LoginResult(token=token, role=rater.role, rater_id=rater.id)


def authenticate(settings: Settings, token: str | None) -> Principal:
    """The Principal for a bearer token. Raises NotAuthenticated when missing, unknown or expired."""
    if not token:
        raise NotAuthenticated("sign in first: send 'Authorization: Bearer TOKEN'")
    with read_session(settings) as s:
        rater = rater_for_token(s, token_hash=hash_token(token), now=_now())
        if rater is None:
            raise NotAuthenticated(
                "your session token is unknown or expired; sign in or open your invite link again"
            )
        return Principal(rater_id=rater.id, handle=rater.handle, role=rater.role, study_id=rater.study_id)


def require_role(principal: Principal, *roles: str) -> None:
    """Raise Forbidden unless the principal has one of ``roles`` (admin always passes)."""
    if principal.role != "admin" and principal.role not in roles:
        raise Forbidden(f"this needs the {' or '.join(roles)} role; you are signed in as {principal.role}")


def create_invites(
    settings: Settings,
    *,
    study: str,
    n: int,
    expires_hours: float | None = None,
    base_url: str = "http://127.0.0.1:7860",
) -> list[InviteLink]:
    """Make ``n`` single-rater invite links for a study; only the tokens' hashes are stored."""
    if n < 1:
        raise PlatformError(f"--n must be at least 1 (got {n})")
    expires_at = _now() + timedelta(hours=expires_hours) if expires_hours else None
    tokens = [new_token() for _ in range(n)]
    with unit_of_work(settings) as s:
        try:
            study_row = get_study(s, name=study)
        except NotFound as exc:
            raise NotFoundError(str(exc)) from exc
        add_invites(
            s, study_id=study_row.id, token_hashes=[hash_token(t) for t in tokens], expires_at=expires_at
        )
    base = base_url.rstrip("/")
    return [InviteLink(token=t, url=f"{base}/?invite={t}") for t in tokens]


def accept_invite(
    settings: Settings, *, invite: str, pid: str | None = None, simulated: bool = False
) -> AcceptedInvite:
    """Exchange an invite token for a bearer token.

    The first acceptance creates the invite's one rater (recording ``pid``); opening the same link
    again (a reload, another device) signs that same rater in again, so raters resume where they
    stopped. Raises NotAuthenticated for an unknown token and Gone for an expired one.
    """
    now = _now()
    with unit_of_work(settings) as s:
        row = invite_by_hash(s, token_hash=hash_token(invite or ""))
        if row is None:
            raise NotAuthenticated("this invite link is not valid; check that you copied the whole link")
        if row.expires_at is not None and as_utc(row.expires_at) <= now:
            raise Gone("this invite link has expired; ask the study team for a new one")
        rater_id = row.rater_id
        if rater_id is None:
            rater_id = claim_invite_for_new_rater(
                s,
                invite_id=row.id,
                handle=f"rater-{secrets.token_hex(6)}",
                study_id=row.study_id,
                now=now,
                external_pid=(pid or None),
                simulated=simulated,
            )
        token = new_token()
        add_auth_token(s, rater_id=rater_id, token_hash=hash_token(token), expires_at=now + RATER_TOKEN_TTL)
        study_name = get_study_by_id(s, study_id=row.study_id).name
        return AcceptedInvite(token=token, rater_id=rater_id, study=study_name)


def new_completion_code() -> str:
    return secrets.token_hex(COMPLETION_CODE_BYTES).upper()


_DUMMY_HASH = hash_password(secrets.token_hex(8))
