"""Every verb is registered, documented and reachable (datasette's habit: registered == documented)."""

from __future__ import annotations

import subprocess
import sys

from typer.main import get_command
from typer.testing import CliRunner

from trustlab.cli import _load_verbs
from trustlab.cli.app import app


def _all_commands(group, prefix=()):
    for name, command in getattr(group, "commands", {}).items():
        path = (*prefix, name)
        if getattr(command, "commands", None):
            yield from _all_commands(command, path)
        else:
            yield path, command


def test_every_verb_has_help_text():
    _load_verbs()
    commands = list(_all_commands(get_command(app)))
    assert ("db", "upgrade") in [path for path, _ in commands]
    undocumented = [" ".join(path) for path, command in commands if not (command.help or "").strip()]
    assert undocumented == []


def test_help_runs_for_every_verb():
    _load_verbs()
    runner = CliRunner()
    for path, _ in _all_commands(get_command(app)):
        result = runner.invoke(app, [*path, "--help"])
        assert result.exit_code == 0, (path, result.output)


def test_python_dash_m_entry_point(tmp_path):
    out = subprocess.run([sys.executable, "-m", "trustlab", "--help"], capture_output=True, text=True,
                         env={"TRUSTLAB_HOME": str(tmp_path), "PATH": ""}, check=False)
    assert out.returncode == 0, out.stderr
    assert "trustlab" in out.stdout.lower()


def test_db_upgrade_creates_sqlite_under_home(tmp_path, monkeypatch):
    monkeypatch.setenv("TRUSTLAB_HOME", str(tmp_path / "h"))
    monkeypatch.delenv("TRUSTLAB_DB_URL", raising=False)
    _load_verbs()
    result = CliRunner().invoke(app, ["db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "h" / "trustlab.db").is_file()
