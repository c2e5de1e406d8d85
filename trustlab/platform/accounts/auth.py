"""Accounts, passwords and bearer tokens (invites: ``invites``).

Passwords are hashed with scrypt (a memory-hard, slow KDF) and compared in constant time. Invite
tokens and bearer tokens are 256-bit random strings; only their sha256 is stored, which is enough
for secrets with that much entropy (a slow KDF protects guessable passwords, not random tokens).

Every token expires (invites too: ``invites``).
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
from datetime import timedelta

from trustlab.clock import utc_now
from trustlab.config import Settings
from trustlab.db.engine import read_session, unit_of_work
from trustlab.db.queries.users import (
    add_auth_token,
    add_user,
    purge_expired_tokens,
    rater_for_token,
    revoke_token,
    user_by_username,
)
from trustlab.platform.accounts.throttle import LoginThrottle
from trustlab.platform.errors import (
    Conflict,
    Forbidden,
    InvalidAnswer,
    NotAuthenticated,
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
DEFAULT_SCRYPT_SLOTS = 2
SCRYPT_SLOTS_ENV = "TRUSTLAB_SCRYPT_SLOTS"
# A sign-in waits this long for a free scrypt slot before it is told to come back (503).
SCRYPT_WAIT_S = 5.0
SCRYPT_BUSY_RETRY_S = 2


def positive_env(name: str, default: float) -> float:
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


SCRYPT_SLOTS = int(positive_env(SCRYPT_SLOTS_ENV, DEFAULT_SCRYPT_SLOTS))
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
    username: str
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


def create_user(
    settings: Settings, *, username: str, role: str = "researcher", password: str | None = None
) -> tuple[int, str]:
    """Create a staff (or rater) account; returns ``(rater_id, password)``.

    A password is generated when none is given. Raises Conflict if the username is taken and
    PlatformError for an unknown role or a password shorter than ``PASSWORD_MIN_LENGTH``.
    """
    if role not in ROLES:
        raise PlatformError(f"role {role!r} is unknown; use one of {', '.join(ROLES)}")
    if not username or len(username) > 200:
        raise PlatformError("user name must be 1-200 characters")
    if password is not None and len(password) < PASSWORD_MIN_LENGTH:
        raise PlatformError(
            f"the password must be at least {PASSWORD_MIN_LENGTH} characters "
            f"(got {len(password)}); leave it out to have one generated"
        )
    password = password or secrets.token_urlsafe(GENERATED_PASSWORD_BYTES)
    with unit_of_work(settings) as s:
        if user_by_username(s, username=username) is not None:
            raise Conflict(f"user {username!r} already exists; pick another name")
        rater = add_user(s, username=username, role=role, secret_hash=hash_password(password))
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
    now = utc_now()
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
        rater = rater_for_token(s, token_hash=hash_token(token), now=utc_now())
        if rater is None:
            raise NotAuthenticated(
                "your session token is unknown, expired or revoked; sign in or open your invite link again"
            )
        return Principal(rater_id=rater.id, username=rater.username, role=rater.role, study_id=rater.study_id)


def require_role(principal: Principal, *roles: str) -> None:
    """Raise Forbidden unless the principal has one of ``roles`` (admin always passes)."""
    if principal.role != "admin" and principal.role not in roles:
        raise Forbidden(f"this needs the {' or '.join(roles)} role; you are signed in as {principal.role}")


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


def new_completion_code() -> str:
    return secrets.token_hex(COMPLETION_CODE_BYTES).upper()


_DUMMY_HASH = hash_password(secrets.token_hex(8))
