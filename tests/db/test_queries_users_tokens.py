"""Token and account queries behind sign-out, `user disable`, `token revoke|purge` (both backends)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.helpers.query_world import make_query_world
from trustlab.db.engine import read_session, unit_of_work
from trustlab.db.queries.users import (
    add_auth_token,
    add_invites,
    add_user,
    invite_by_hash,
    purge_expired_tokens,
    rater_for_token,
    revoke_rater_tokens,
    revoke_study_rater_tokens,
    revoke_token,
    set_disabled,
)

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
LATER = NOW + timedelta(hours=1)


def test_tokens_are_revoked_per_token_per_account_and_per_study(settings):
    world = make_query_world(settings, n_items=1)
    with unit_of_work(settings) as s:
        staff = add_user(s, username="staff", role="researcher")
        for n, rater_id in enumerate([world.rater_id, world.rater_id, staff.id, staff.id]):
            add_auth_token(s, rater_id=rater_id, token_hash=f"{n:064x}", expires_at=LATER)
    with unit_of_work(settings) as s:
        assert revoke_token(s, token_hash=f"{0:064x}") == 1
        assert revoke_token(s, token_hash=f"{0:064x}") == 0
        assert revoke_study_rater_tokens(s, study_id=world.study_id) == 1  # staff belong to no study
        assert revoke_rater_tokens(s, rater_id=staff.id) == 2
    with read_session(settings) as s:
        assert all(rater_for_token(s, token_hash=f"{n:064x}", now=NOW) is None for n in range(4))


def test_disabled_accounts_and_expired_tokens_authenticate_nobody(settings):
    world = make_query_world(settings, n_items=1)
    with unit_of_work(settings) as s:
        add_auth_token(s, rater_id=world.rater_id, token_hash="a" * 64, expires_at=LATER)
        add_auth_token(s, rater_id=world.rater_id, token_hash="b" * 64, expires_at=NOW)
    with read_session(settings) as s:
        assert rater_for_token(s, token_hash="a" * 64, now=NOW).id == world.rater_id
        assert rater_for_token(s, token_hash="b" * 64, now=NOW) is None
    with unit_of_work(settings) as s:
        set_disabled(s, rater_id=world.rater_id, disabled_at=NOW)
    with read_session(settings) as s:
        assert rater_for_token(s, token_hash="a" * 64, now=NOW) is None
    with unit_of_work(settings) as s:
        set_disabled(s, rater_id=world.rater_id, disabled_at=None)
        assert purge_expired_tokens(s, now=NOW) == 1
    with read_session(settings) as s:
        assert rater_for_token(s, token_hash="a" * 64, now=NOW).id == world.rater_id


def test_invites_store_the_simulated_flag(settings):
    world = make_query_world(settings, n_items=1)
    with unit_of_work(settings) as s:
        add_invites(s, study_id=world.study_id, token_hashes=["c" * 64], expires_at=LATER, simulated=True)
        add_invites(s, study_id=world.study_id, token_hashes=["d" * 64], expires_at=LATER)
    with read_session(settings) as s:
        assert invite_by_hash(s, token_hash="c" * 64).simulated is True
        assert invite_by_hash(s, token_hash="d" * 64).simulated is False
