from __future__ import annotations

import subprocess
import sys

import pytest
from pydantic import ValidationError

from trustlab.config import load_settings


def test_defaults_to_sqlite_under_home(tmp_path, monkeypatch):
    monkeypatch.delenv("TRUSTLAB_DB_URL", raising=False)
    monkeypatch.setenv("TRUSTLAB_HOME", str(tmp_path / "x"))
    settings = load_settings()
    assert settings.home == (tmp_path / "x").resolve()
    assert settings.database_url == f"sqlite:///{(tmp_path / 'x' / 'trustlab.db').resolve()}"


def test_postgres_url_normalised_and_unknown_driver_rejected(tmp_path):
    settings = load_settings(home=tmp_path, db_url="postgresql://u:p@h/d")
    assert settings.database_url == "postgresql+psycopg://u:p@h/d"
    with pytest.raises(ValidationError, match="TRUSTLAB_DB_URL"):
        load_settings(home=tmp_path, db_url="mysql://u@h/d")


def test_offline_variables_set_before_gradio_or_hub_import():
    keys = ["GRADIO_ANALYTICS_ENABLED", "HF_HUB_OFFLINE", "HF_HUB_DISABLE_TELEMETRY"]
    code = f"import os, trustlab; print(*[os.environ[k] for k in {keys!r}])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env={"PATH": ""},
                         check=True)
    assert out.stdout.split() == ["False", "1", "1"]
