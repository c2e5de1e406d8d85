"""Ending access and trusting nothing the client says about itself,
through the API on both backends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from trustlab.db.engine import unit_of_work
from trustlab.db.queries.times import as_utc
from trustlab.db.schema import AuthToken, Invite, User
from trustlab.platform.accounts import access, auth
from trustlab.platform.accounts.invites import accept_invite, create_invites
from trustlab.platform.errors import Conflict, Forbidden, InvalidAnswer, NotAuthenticated, PlatformError
from trustlab.studies.design.create import close_study

PASSWORD = "long-enough-pw"


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def accept(client, invite: str, **extra):
    return client.post("/api/v1/invites/accept", json={"invite": invite, **extra})


def test_logout_revokes_only_the_token_it_was_sent_with(world, client):
    invite = world.invite("alpha")[0]
    phone, laptop = accept(client, invite).json()["token"], accept(client, invite).json()["token"]
    assert client.post("/api/v1/logout", headers=bearer(phone)).status_code == 204
    assert client.get("/api/v1/me", headers=bearer(phone)).status_code == 401
    assert client.get("/api/v1/me", headers=bearer(laptop)).status_code == 200
    assert client.post("/api/v1/logout", headers=bearer(phone)).status_code == 401  # already gone
    assert client.post("/api/v1/logout").status_code == 401
    auth.create_user(world.settings, username="rita", role="researcher", password=PASSWORD)
    staff = client.post("/api/v1/login", json={"username": "rita", "password": PASSWORD}).json()["token"]
    assert auth.logout(world.settings, staff) is True and auth.logout(world.settings, staff) is False
    with pytest.raises(NotAuthenticated):
        auth.authenticate(world.settings, staff)


def test_a_closed_study_issues_no_tokens_from_its_invites(world, client):
    fresh, used = world.invite("alpha", n=2)
    assert accept(client, used).status_code == 200
    close_study(world.settings, "alpha")
    for invite in (fresh, used):  # a new rater, and a returning one
        r = accept(client, invite)
        assert r.status_code == 409 and "has closed" in r.json()["detail"]
    with pytest.raises(Conflict):
        accept_invite(world.settings, invite=fresh)


def test_invites_expire_after_14_days_by_default_or_as_configured(world, monkeypatch):
    def lifetime(**options) -> timedelta:
        link = create_invites(world.settings, study="alpha", n=1, **options)[0]
        with unit_of_work(world.settings) as s:
            row = s.scalars(select(Invite).where(Invite.token_hash == auth.hash_token(link.token))).one()
            return as_utc(row.expires_at) - as_utc(row.created_at)

    assert abs(lifetime() - timedelta(days=14)) < timedelta(minutes=1)
    assert abs(lifetime(expires_days=2) - timedelta(days=2)) < timedelta(minutes=1)
    assert abs(lifetime(expires_hours=3) - timedelta(hours=3)) < timedelta(minutes=1)
    monkeypatch.setenv("TRUSTLAB_INVITE_DAYS", "5")
    assert abs(lifetime() - timedelta(days=5)) < timedelta(minutes=1)
    monkeypatch.setenv("TRUSTLAB_INVITE_DAYS", "soon")
    with pytest.raises(PlatformError, match="TRUSTLAB_INVITE_DAYS"):
        lifetime()


def test_expired_invite_answers_410_through_the_api(world, client):
    invite = world.invite("alpha")[0]
    with unit_of_work(world.settings) as s:
        s.scalars(select(Invite)).one().expires_at = datetime.now(UTC) - timedelta(seconds=1)
        s.commit()
    r = accept(client, invite)
    assert r.status_code == 410 and "expired" in r.json()["detail"]


def test_disabled_accounts_lose_their_tokens_and_cannot_come_back(world, client):
    auth.create_user(world.settings, username="rita", role="researcher", password=PASSWORD)
    staff = client.post("/api/v1/login", json={"username": "rita", "password": PASSWORD}).json()["token"]
    invite = world.invite("alpha")[0]
    joined = accept(client, invite).json()
    with unit_of_work(world.settings) as s:
        rater_handle = s.get(User, joined["rater_id"]).username
    assert access.disable_user(world.settings, username="rita") == 1
    assert access.disable_user(world.settings, username=rater_handle) == 1
    assert client.get("/api/v1/me", headers=bearer(staff)).status_code == 401
    assert client.get("/api/v1/me", headers=bearer(joined["token"])).status_code == 401
    r = client.post("/api/v1/login", json={"username": "rita", "password": PASSWORD})
    assert r.status_code == 403 and "disabled" in r.json()["detail"]
    r = accept(client, invite)
    assert r.status_code == 403 and "ended" in r.json()["detail"]
    with pytest.raises(Forbidden):
        auth.login(world.settings, username="rita", password=PASSWORD)
    access.enable_user(world.settings, username="rita")
    assert client.get("/api/v1/me", headers=bearer(staff)).status_code == 401  # old tokens stay revoked
    assert client.post("/api/v1/login", json={"username": "rita", "password": PASSWORD}).status_code == 200
    with pytest.raises(PlatformError, match="no user 'nobody'"):
        access.disable_user(world.settings, username="nobody")


def test_revoke_tokens_of_a_user_or_of_a_studys_raters(world, client):
    auth.create_user(world.settings, username="rita", role="researcher", password=PASSWORD)
    staff = [auth.login(world.settings, username="rita", password=PASSWORD).token for _ in range(2)]
    alpha = [accept(client, i).json()["token"] for i in world.invite("alpha", n=2)]
    beta = accept(client, world.invite("beta")[0]).json()["token"]
    assert access.revoke_tokens(world.settings, study="alpha") == 2
    assert [client.get("/api/v1/me", headers=bearer(t)).status_code for t in [*alpha, beta, *staff]] == [
        401, 401, 200, 200, 200
    ]
    assert access.revoke_tokens(world.settings, user="rita") == 2
    assert all(client.get("/api/v1/me", headers=bearer(t)).status_code == 401 for t in staff)
    with pytest.raises(PlatformError, match="either"):
        access.revoke_tokens(world.settings, user="rita", study="alpha")


def test_expired_tokens_are_purged_when_tokens_are_issued(world, client):
    old = [accept(client, i).json()["token"] for i in world.invite("alpha", n=3)]
    with unit_of_work(world.settings) as s:
        for row in s.scalars(select(AuthToken)):
            row.expires_at = datetime.now(UTC) - timedelta(minutes=1)
        s.commit()
    accept(client, world.invite("alpha")[0])  # issuing a token clears the expired ones
    with unit_of_work(world.settings) as s:
        hashes = set(s.scalars(select(AuthToken.token_hash)))
    assert len(hashes) == 1 and not hashes & {auth.hash_token(t) for t in old}
    with unit_of_work(world.settings) as s:
        s.scalars(select(AuthToken)).one().expires_at = datetime.now(UTC) - timedelta(minutes=1)
        s.commit()
    assert access.purge_tokens(world.settings) == 1
    with unit_of_work(world.settings) as s:
        assert s.scalar(select(func.count()).select_from(AuthToken)) == 0


def test_simulated_comes_from_the_invite_never_from_the_client(world, client):
    person = accept(client, world.invite("alpha")[0], simulated=True)  # an old client's field: ignored
    robot_link = create_invites(world.settings, study="alpha", n=1, simulated=True)[0]
    robot = accept(client, robot_link.token)
    assert person.status_code == robot.status_code == 200
    with unit_of_work(world.settings) as s:
        assert s.get(User, person.json()["rater_id"]).simulated is False
        assert s.get(User, robot.json()["rater_id"]).simulated is True


@pytest.mark.parametrize("pid", ["x" * 201, "line\nbreak", "nul\x00", "bell\x07"])
def test_bad_pids_are_refused_on_every_path(world, client, pid):
    invite = world.invite("alpha")[0]
    r = accept(client, invite, pid=pid)
    assert r.status_code == 422
    with pytest.raises(InvalidAnswer, match="participant id") as refused:
        accept_invite(world.settings, invite=invite, pid=pid)  # the rater page's ?pid= path
    assert refused.value.field == "pid"
    with unit_of_work(world.settings) as s:
        assert s.scalar(select(func.count()).select_from(User)) == 0


def test_a_good_pid_is_recorded(world, client):
    joined = accept(client, world.invite("alpha")[0], pid="PROLIFIC-5f3a 9")
    assert joined.status_code == 200
    with unit_of_work(world.settings) as s:
        assert s.get(User, joined.json()["rater_id"]).external_pid == "PROLIFIC-5f3a 9"
    assert auth.validate_pid("") is None and auth.validate_pid("x" * 200) == "x" * 200


def test_short_passwords_are_refused(settings):
    with pytest.raises(PlatformError, match="at least 10 characters"):
        auth.create_user(settings, username="ana", password="short-pw")
    assert auth.create_user(settings, username="ana", password="ten-chars!")[1] == "ten-chars!"
