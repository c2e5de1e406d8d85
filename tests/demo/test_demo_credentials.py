"""The demo's credentials file is created private: never readable by others, not even
between its creation and a later chmod."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from trustlab.config import Settings
from trustlab.demo.plan import credentials_file, load_credentials, save_credentials


def test_credentials_are_created_with_mode_0600_even_without_a_chmod(tmp_path: Path, monkeypatch) -> None:
    settings = Settings(home=tmp_path / "home")
    settings.ensure_dirs()
    old = os.umask(0)
    # No chmod after the fact: the file must be private from the moment it exists.
    monkeypatch.setattr(Path, "chmod", lambda self, mode: None)
    try:
        save_credentials(settings, {"researcher": "pw-one"})
        save_credentials(settings, {"curator": "pw-two"})
    finally:
        os.umask(old)
    mode = stat.S_IMODE(credentials_file(settings).stat().st_mode)
    assert mode == 0o600, oct(mode)
    assert load_credentials(settings) == {"researcher": "pw-one", "curator": "pw-two"}
    assert not list(credentials_file(settings).parent.glob("*.tmp"))
