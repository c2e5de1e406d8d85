"""The platform's CLI verbs through Typer's runner (SQLite)."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from tests.helpers.platform_world import build_world
from trustlab.cli import _load_verbs
from trustlab.cli.app import app
from trustlab.platform.accounts import auth
from trustlab.platform.accounts.invites import accept_invite


def test_user_add_and_study_invite(sqlite_settings, monkeypatch):
    build_world(sqlite_settings)
    monkeypatch.setenv("TRUSTLAB_HOME", str(sqlite_settings.home))
    monkeypatch.delenv("TRUSTLAB_DB_URL", raising=False)
    _load_verbs()
    runner = CliRunner()
    result = runner.invoke(app, ["user", "add", "ana", "--role", "researcher"])
    assert result.exit_code == 0, result.output
    password = result.output.split("password:")[1].split()[0]
    assert auth.login(sqlite_settings, username="ana", password=password).role == "researcher"
    again = runner.invoke(app, ["user", "add", "ana"])
    assert again.exit_code != 0 and "already exists" in again.output
    result = runner.invoke(
        app, ["study", "invite", "alpha", "--n", "3", "--json", "--base-url", "https://x.org"]
    )
    assert result.exit_code == 0, result.output
    links = json.loads(result.output)
    assert len(links) == 3 and links[0]["url"] == f"https://x.org/?invite={links[0]['token']}"
    assert accept_invite(sqlite_settings, invite=links[0]["token"]).study == "alpha"
    plain = runner.invoke(app, ["study", "invite", "alpha", "--n", "2", "--expires-hours", "2"])
    assert plain.exit_code == 0 and plain.output.count("?invite=") == 2
    missing = runner.invoke(app, ["study", "invite", "nope"])
    assert missing.exit_code != 0 and "does not exist" in missing.output
