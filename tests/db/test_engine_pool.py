"""The connection pool is sized from the settings (TRUSTLAB_DB_POOL_SIZE, TRUSTLAB_DB_MAX_OVERFLOW)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from trustlab.config import DEFAULT_DB_MAX_OVERFLOW, DEFAULT_DB_POOL_SIZE, Settings, load_settings
from trustlab.db.engine import dispose_engines, get_engine


def test_pool_size_and_overflow_come_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("TRUSTLAB_DB_POOL_SIZE", "3")
    monkeypatch.setenv("TRUSTLAB_DB_MAX_OVERFLOW", "0")
    settings = load_settings(home=tmp_path / "home", db_url="")
    try:
        pool = get_engine(settings).pool
        assert (pool.size(), pool._max_overflow) == (3, 0)
    finally:
        dispose_engines()


def test_pool_defaults_and_validation(tmp_path):
    settings = Settings(home=tmp_path)
    assert settings.db_pool_size == DEFAULT_DB_POOL_SIZE
    assert settings.db_max_overflow == DEFAULT_DB_MAX_OVERFLOW
    with pytest.raises(ValidationError):
        Settings(home=tmp_path, db_pool_size=0)
