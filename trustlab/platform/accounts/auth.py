"""Accounts, passwords, bearer tokens and invites.

Passwords are hashed with scrypt (a memory-hard, slow KDF) and compared in constant time. Invite
tokens and bearer tokens are 256-bit random strings; only their sha256 is stored, which is enough
for secrets with that much entropy (a slow KDF protects guessable passwords, not random tokens).

Every token expires; invites expire after ``TRUSTLAB_INVITE_DAYS`` (14) days unless told otherwise.
Sign-ins are throttled per user name and per client address (``throttle.LoginThrottle``), and at
most ``TRUSTLAB_SCRYPT_SLOTS`` (2) scrypt computations run at once per process, so a flood of
sign-ins cannot take every core from raters (whose tokens are checked with one sha256).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
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
    add_user,
    claim_invite_for_new_rater,
    get_rater,
    invite_by_hash,
    purge_expired_tokens,
    rater_for_token,
    revoke_token,
    user_by_username,
)
from trustlab.platform.accounts.throttle import LoginThrottle
from trustlab.platform.errors import (
    Conflict,
    Forbidden,
    Gone,
    InvalidAnswer,
    NotAuthenticated,
    NotFoundError,
    PlatformError,
    ServerBusy,
)

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
PASSWORD_MIN_LENGTH = 10
MAX_PID_LENGTH = 200
DEFAULT_INVITE_DAYS = 14.0
INVITE_DAYS_ENV = "TRUSTLAB_INVITE_DAYS"
DEFAULT_SCRYPT_SLOTS = 2
SCRYPT_SLOTS_ENV = "TRUSTLAB_SCRYPT_SLOTS"
# A sign-in waits this long for a free scrypt slot before it is told to come back (503).
SCRYPT_WAIT_S = 5.0
SCRYPT_BUSY_RETRY_S = 2


def _positive_env(name: str, default: float) -> float:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = 0.0
    if not value > 0:
        raise PlatformError(f"{name}={raw!r} must be a positive number (default {default:g})")
    return value


SCRYPT_SLOTS = int(_positive_env(SCRYPT_SLOTS_ENV, DEFAULT_SCRYPT_SLOTS))
SCRYPT_GATE = threading.BoundedSemaphore(SCRYPT_SLOTS)
"""Held around every scrypt computation (hash and verify) in this process."""


@contextmanager
def _scrypt_slot() -> Iterator[None]:
    if not SCRYPT_GATE.acquire(timeout=SCRYPT_WAIT_S):
        raise ServerBusy(
            "the server is busy checking other sign-ins; try again in a few seconds",
            retry_after=SCRYPT_BUSY_RETRY_S,
        )
    try:
        yield
    finally:
        SCRYPT_GATE.release()


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int, dklen: int) -> bytes:
    with _scrypt_slot():
        return hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, dklen=dklen)


def hash_password(password: str) -> str:
    """``scrypt$N$r$p$salt_hex$hash_hex`` for ``password``."""
    salt = secrets.token_bytes(SALT_BYTES)
    digest = _scrypt(password, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P, SCRYPT_DKLEN)
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
        digest = _scrypt(password, bytes.fromhex(salt_hex), int(n), int(r), int(p), len(expected))
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
    PlatformError for an unknown role or a password shorter than ``PASSWORD_MIN_LENGTH``.
    """
    if role not in ROLES:
        raise PlatformError(f"role {role!r} is unknown; use one of {', '.join(ROLES)}")
    if not handle or len(handle) > 200:
        raise PlatformError("user name must be 1-200 characters")
    if password is not None and len(password) < PASSWORD_MIN_LENGTH:
        raise PlatformError(
            f"the password must be at least {PASSWORD_MIN_LENGTH} characters "
            f"(got {len(password)}); leave it out to have one generated"
        )
    password = password or secrets.token_urlsafe(GENERATED_PASSWORD_BYTES)
    with unit_of_work(settings) as s:
        if user_by_username(s, username=handle) is not None:
            raise Conflict(f"user {handle!r} already exists; pick another name")
        rater = add_user(s, username=handle, role=role, secret_hash=hash_password(password))
        return rater.id, password


def login(
    settings: Settings,
    *,
    username: str,
    password: str,
    address: str | None = None,
    throttle: LoginThrottle | None = None,
) -> LoginResult:
    """Check a password and issue a bearer token (expired tokens are purged on the way).

    address: the client's address, counted by ``throttle`` next to the user name. The API and the
    staff sign-in pass the app's throttle; trusted callers (the CLI, tests) may pass none.
    Raises TooManyRequests (429) when the name or address is locked out, ServerBusy (503) when
    every scrypt slot stays busy, NotAuthenticated for a wrong name or password and Forbidden for
    a disabled account.
    """
    if throttle is not None:
        throttle.check(username, address)
    now = _now()
    with unit_of_work(settings) as s:
        rater = user_by_username(s, username=username)
        # Hash even for unknown users so that timing does not tell which user names exist.
        stored = rater.secret_hash if rater is not None else _DUMMY_HASH
        if not verify_password(password, stored) or rater is None:
            if throttle is not None:
                throttle.failure(username, address)
            raise NotAuthenticated("wrong user name or password")
        if throttle is not None:
            throttle.success(username, address)
        if rater.disabled_at is not None:
            raise Forbidden(f"the account {username!r} is disabled; an admin can run `trustlab user enable`")
        purge_expired_tokens(s, now=now)
        token = new_token()
        ttl = STAFF_TOKEN_TTL if rater.role in STAFF_ROLES else RATER_TOKEN_TTL
        add_auth_token(s, rater_id=rater.id, token_hash=hash_token(token), expires_at=now + ttl)
        return LoginResult(token=token, role=rater.role, rater_id=rater.id)


def logout(settings: Settings, token: str | None) -> bool:
    """Revoke one bearer token (sign-out); True when it existed. The UI's sign-out button calls this."""
    if not token:
        return False
    with unit_of_work(settings) as s:
        return revoke_token(s, token_hash=hash_token(token)) > 0


def authenticate(settings: Settings, token: str | None) -> Principal:
    """The Principal for a bearer token. Raises NotAuthenticated when missing, unknown, expired,
    revoked (sign-out, `trustlab token revoke`) or its account is disabled."""
    if not token:
        raise NotAuthenticated("sign in first: send 'Authorization: Bearer TOKEN'")
    with read_session(settings) as s:
        rater = rater_for_token(s, token_hash=hash_token(token), now=_now())
        if rater is None:
            raise NotAuthenticated(
                "your session token is unknown, expired or revoked; sign in or open your invite link again"
            )
        return Principal(rater_id=rater.id, handle=rater.username, role=rater.role, study_id=rater.study_id)


def require_role(principal: Principal, *roles: str) -> None:
    """Raise Forbidden unless the principal has one of ``roles`` (admin always passes)."""
    if principal.role != "admin" and principal.role not in roles:
        raise Forbidden(f"this needs the {' or '.join(roles)} role; you are signed in as {principal.role}")


def default_invite_days() -> float:
    """Days an invite stays valid unless told otherwise: ``TRUSTLAB_INVITE_DAYS``, else 14."""
    return _positive_env(INVITE_DAYS_ENV, DEFAULT_INVITE_DAYS)


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
    Raises LinkStudyInvite (409) for a link-mode study (its participants come by its public link,
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
    expires_at = _now() + lifetime
    tokens = [new_token() for _ in range(n)]
    with unit_of_work(settings) as s:
        try:
            study_row = get_study(s, name=study)
        except NotFound as exc:
            message = str(exc)  # the storage layer's words, as a sentence
            raise NotFoundError(message[:1].upper() + message[1:]) from exc
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
    """409: invites into a link-mode study would skip its consent, instructions and practice."""


def _refuse_link_study(study_row, *, accepting: bool = False) -> None:
    """A link-mode study is joined only through its public link, which goes through consent,
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


def validate_pid(pid: str | None) -> str | None:
    """The participant id from ``?pid=`` / the API, checked: at most 200 printable characters.

    Returns None for a missing or empty pid; raises InvalidAnswer (field ``pid``, 422) otherwise.
    """
    if pid is None or pid == "":
        return None
    if not isinstance(pid, str) or len(pid) > MAX_PID_LENGTH:
        raise InvalidAnswer("pid", f"the participant id must be at most {MAX_PID_LENGTH} characters")
    if not pid.isprintable():
        raise InvalidAnswer("pid", "the participant id may only hold printable characters")
    return pid


def accept_invite(settings: Settings, *, invite: str, pid: str | None = None) -> AcceptedInvite:
    """Exchange an invite token for a bearer token.

    The first acceptance creates the invite's one rater (recording ``pid``, and ``simulated`` as
    the invite says); opening the same link again (a reload, another device) signs that same rater
    in again, so raters resume where they stopped. Raises InvalidAnswer for a bad pid,
    NotAuthenticated for an unknown token, Gone for an expired one, Conflict (409) when the study
    has closed or a new rater would enter a link-mode study, and Forbidden when the rater was disabled.
    """
    pid = validate_pid(pid)
    now = _now()
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
            if not row.simulated:  # an invite made before they were refused for link-mode studies
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


def new_completion_code() -> str:
    return secrets.token_hex(COMPLETION_CODE_BYTES).upper()


_DUMMY_HASH = hash_password(secrets.token_hex(8))
