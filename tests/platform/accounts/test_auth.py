"""Accounts, passwords, tokens and invites (on both database backends)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from trustlab.db.engine import unit_of_work
from trustlab.db.schema import AuthToken, Invite, ModelVersion, Study, User
from trustlab.platform.accounts import auth
from trustlab.platform.accounts.invites import accept_invite, create_invites
from trustlab.platform.errors import Conflict, Gone, NotAuthenticated, NotFoundError, PlatformError


def _study(settings, name="s1") -> int:
    from tests.helpers.builders import make_image_dataset

    dataset_id = make_image_dataset(settings, per_class={"test": 1})
    with unit_of_work(settings) as s:
        mv = ModelVersion(
            name="m",
            dataset_id=dataset_id,
            arch="simple_cnn",
            checkpoint_path="x",
            checkpoint_sha256="0" * 64,
            class_names=["square", "disc"],
            img_size=32,
        )
        s.add(mv)
        s.flush()
        study = Study(name=name, dataset_id=dataset_id, model_version_id=mv.id, config={}, status="open")
        s.add(study)
        s.commit()
        return study.id


def test_password_hash_is_salted_slow_kdf_and_verifies():
    h1, h2 = auth.hash_password("pw"), auth.hash_password("pw")
    assert h1 != h2 and h1.startswith("scrypt$16384$8$1$")
    assert auth.verify_password("pw", h1)
    assert not auth.verify_password("pW", h1)
    assert not auth.verify_password("pw", "garbage")
    assert not auth.verify_password("pw", None)


def test_create_user_login_and_authenticate(settings):
    rater_id, password = auth.create_user(settings, username="alice", role="researcher")
    assert len(password) >= 12
    with unit_of_work(settings) as s:
        stored = s.scalars(select(User.secret_hash).where(User.id == rater_id)).one()
    assert password not in stored
    with pytest.raises(Conflict):
        auth.create_user(settings, username="alice")
    with pytest.raises(NotAuthenticated):
        auth.login(settings, username="alice", password="wrong")
    with pytest.raises(NotAuthenticated):
        auth.login(settings, username="nobody", password=password)
    result = auth.login(settings, username="alice", password=password)
    assert result.role == "researcher"
    with unit_of_work(settings) as s:
        hashes = list(s.scalars(select(AuthToken.token_hash)))
    assert hashes == [auth.hash_token(result.token)]  # stored hashed, never in clear
    principal = auth.authenticate(settings, result.token)
    assert (principal.username, principal.role, principal.is_staff) == ("alice", "researcher", True)
    with pytest.raises(NotAuthenticated):
        auth.authenticate(settings, result.token + "x")
    with pytest.raises(NotAuthenticated):
        auth.authenticate(settings, None)


def test_expired_token_is_refused(settings):
    auth.create_user(settings, username="bob", role="curator", password="secret-pw-10")
    result = auth.login(settings, username="bob", password="secret-pw-10")
    with unit_of_work(settings) as s:
        token = s.scalars(select(AuthToken)).one()
        token.expires_at = datetime.now(UTC) - timedelta(seconds=1)
        s.commit()
    with pytest.raises(NotAuthenticated):
        auth.authenticate(settings, result.token)


def test_invites_are_hashed_single_rater_and_record_pid(settings):
    study_id = _study(settings)
    links = create_invites(settings, study="s1", n=3, base_url="http://host:1/")
    assert len({link.token for link in links}) == 3
    assert links[0].url == f"http://host:1/?invite={links[0].token}"
    with unit_of_work(settings) as s:
        stored = set(s.scalars(select(Invite.token_hash)))
    assert stored == {auth.hash_token(link.token) for link in links}
    first = accept_invite(settings, invite=links[0].token, pid="PROLIFIC-42")
    assert first.study == "s1"
    again = accept_invite(settings, invite=links[0].token, pid="someone-else")
    assert again.rater_id == first.rater_id and again.token != first.token  # same rater, new device
    other = accept_invite(settings, invite=links[1].token)
    assert other.rater_id != first.rater_id
    with unit_of_work(settings) as s:
        rater = s.get(User, first.rater_id)
        assert (rater.role, rater.study_id, rater.external_pid) == ("rater", study_id, "PROLIFIC-42")
        assert s.scalars(select(Invite).where(Invite.rater_id == first.rater_id)).one().accepted_at
    principal = auth.authenticate(settings, first.token)
    assert principal.study_id == study_id and not principal.is_staff
    with pytest.raises(NotAuthenticated):
        accept_invite(settings, invite="not-a-token")
    with pytest.raises(NotFoundError):
        create_invites(settings, study="nope", n=1)


def test_expired_invite_is_gone(settings):
    _study(settings)
    link = create_invites(settings, study="s1", n=1, expires_hours=1)[0]
    with unit_of_work(settings) as s:
        s.scalars(select(Invite)).one().expires_at = datetime.now(UTC) - timedelta(minutes=1)
        s.commit()
    with pytest.raises(Gone):
        accept_invite(settings, invite=link.token)


def test_invite_errors_are_sentences(settings):
    """The invite paths' messages (shown on the rater page and by the CLI) start with a capital
    letter, like every sentence."""
    _study(settings)
    link = create_invites(settings, study="s1", n=1)[0]
    with unit_of_work(settings) as s:
        s.scalars(select(Invite)).one().expires_at = datetime.now(UTC) - timedelta(minutes=1)
        s.scalars(select(Study)).one().status = "closed"
        s.commit()
    errors = []
    for call in (
        lambda: accept_invite(settings, invite="not-a-token"),
        lambda: accept_invite(settings, invite=link.token),
        lambda: create_invites(settings, study="nope", n=1),
        lambda: create_invites(settings, study="s1", n=0),
        lambda: create_invites(settings, study="s1", n=1, expires_hours=-1),
    ):
        with pytest.raises(PlatformError) as caught:
            call()
        errors.append(caught.value.message)
    with unit_of_work(settings) as s:
        s.scalars(select(Invite)).one().expires_at = None
        s.commit()
    with pytest.raises(Conflict) as closed:
        accept_invite(settings, invite=link.token)
    errors.append(closed.value.message)
    assert all(m[0].isupper() for m in errors), errors
    assert "has expired" in errors[1] and "has closed" in errors[-1]
