"""`user add` password sources, `user disable|enable`, `token revoke|purge`, `study invite` expiry and
--simulated, through Typer's runner (SQLite)."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from tests.helpers.platform_world import build_world
from trustlab.cli import _load_verbs
from trustlab.cli.app import app
from trustlab.db.engine import unit_of_work
from trustlab.db.queries.times import as_utc
from trustlab.db.schema import Invite, User
from trustlab.platform.accounts import auth
from trustlab.platform.accounts.invites import accept_invite
from trustlab.platform.errors import Forbidden, NotAuthenticated


@pytest.fixture
def cli(sqlite_settings, monkeypatch):
    build_world(sqlite_settings)
    monkeypatch.setenv("TRUSTLAB_HOME", str(sqlite_settings.home))
    monkeypatch.delenv("TRUSTLAB_DB_URL", raising=False)
    monkeypatch.delenv("TRUSTLAB_INVITE_DAYS", raising=False)
    _load_verbs()
    runner = CliRunner()
    return lambda *args, **kw: runner.invoke(app, list(args), **kw)


def test_user_add_takes_the_password_from_a_prompt_or_a_file(cli, sqlite_settings, tmp_path):
    typed = cli("user", "add", "ana", "--password-prompt", input="typed-secret-1\ntyped-secret-1\n")
    assert typed.exit_code == 0, typed.output
    assert "typed-secret-1" not in typed.output and "password:" not in typed.output
    assert auth.login(sqlite_settings, username="ana", password="typed-secret-1").role == "researcher"
    secret = tmp_path / "pw.txt"
    secret.write_text("from-a-file-22\nignored second line\n")
    filed = cli("user", "add", "bea", "--role", "curator", "--password-file", str(secret))
    assert filed.exit_code == 0, filed.output
    assert auth.login(sqlite_settings, username="bea", password="from-a-file-22").role == "curator"
    inline = cli("user", "add", "cy", "--password", "on-the-command-line")
    assert inline.exit_code == 0 and "shell history" in inline.output
    short = cli("user", "add", "dee", "--password-prompt", input="short\nshort\n")
    assert short.exit_code != 0 and "at least 10 characters" in short.output
    both = cli("user", "add", "eve", "--password-file", str(secret), "--password", "x" * 12)
    assert both.exit_code != 0 and "one way" in both.output


def test_user_disable_enable_and_token_revoke(cli, sqlite_settings):
    auth.create_user(sqlite_settings, username="rita", role="researcher", password="rita-password")
    token = auth.login(sqlite_settings, username="rita", password="rita-password").token
    result = cli("user", "disable", "rita")
    assert result.exit_code == 0 and "1 tokens revoked" in result.output, result.output
    with pytest.raises(NotAuthenticated):
        auth.authenticate(sqlite_settings, token)
    with pytest.raises(Forbidden):
        auth.login(sqlite_settings, username="rita", password="rita-password")
    assert cli("user", "enable", "rita").exit_code == 0
    token = auth.login(sqlite_settings, username="rita", password="rita-password").token
    missing = cli("user", "disable", "nobody")
    assert missing.exit_code != 0 and "no user 'nobody'" in missing.output

    invite = json.loads(cli("study", "invite", "alpha", "--n", "2", "--json").output)
    raters = [accept_invite(sqlite_settings, invite=link["token"]).token for link in invite]
    result = cli("token", "revoke", "--study", "alpha")
    assert result.exit_code == 0 and "2 tokens revoked" in result.output, result.output
    for rater_token in raters:
        with pytest.raises(NotAuthenticated):
            auth.authenticate(sqlite_settings, rater_token)
    assert auth.authenticate(sqlite_settings, token).username == "rita"
    assert "1 tokens revoked" in cli("token", "revoke", "--user", "rita").output
    neither = cli("token", "revoke")
    assert neither.exit_code != 0 and "either" in neither.output
    purge = cli("token", "purge")
    assert purge.exit_code == 0 and "expired tokens deleted" in purge.output


def test_study_invite_expiry_and_simulated_flag(cli, sqlite_settings, monkeypatch):
    def invites() -> list[Invite]:
        with unit_of_work(sqlite_settings) as s:
            return list(s.scalars(select(Invite).order_by(Invite.id)))

    assert cli("study", "invite", "alpha").exit_code == 0
    assert cli("study", "invite", "alpha", "--expires-days", "3", "--simulated").exit_code == 0
    monkeypatch.setenv("TRUSTLAB_INVITE_DAYS", "1")
    assert cli("study", "invite", "alpha").exit_code == 0
    rows = invites()
    lifetimes = [as_utc(r.expires_at) - as_utc(r.created_at) for r in rows]
    for got, want in zip(lifetimes, (14, 3, 1), strict=True):
        assert abs(got - timedelta(days=want)) < timedelta(minutes=1)
    assert [r.simulated for r in rows] == [False, True, False]
    bad = cli("study", "invite", "alpha", "--expires-days", "0")
    assert bad.exit_code != 0 and "positive" in bad.output
    link = json.loads(cli("study", "invite", "alpha", "--simulated", "--json").output)[0]
    accepted = accept_invite(sqlite_settings, invite=link["token"])
    with unit_of_work(sqlite_settings) as s:
        assert s.get(User, accepted.rater_id).simulated is True
