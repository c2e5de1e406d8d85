"""Shared fixtures. Database tests run on SQLite always and on PostgreSQL when
TRUSTLAB_TEST_PG_URL is set (CI sets it and TRUSTLAB_REQUIRE_PG=1, so a missing server fails)."""

from __future__ import annotations

import os
import uuid
from urllib.parse import quote

import pytest
from sqlalchemy import create_engine, text

from trustlab.config import Settings, load_settings
from trustlab.db.engine import dispose_engines

PG_URL = os.environ.get("TRUSTLAB_TEST_PG_URL")
REQUIRE_PG = os.environ.get("TRUSTLAB_REQUIRE_PG") == "1"


def _pg_schema_url(base_url: str, schema: str) -> str:
    sep = "&" if "?" in base_url else "?"
    return f"{base_url}{sep}options={quote(f'-csearch_path={schema}')}"


@pytest.fixture(params=["sqlite", "postgresql"])
def settings(request, tmp_path) -> Settings:
    """Settings with a fresh, migrated-on-first-use database, on each backend.

    PostgreSQL tests get their own schema (dropped afterwards), so they never see each other's rows.
    """
    home = tmp_path / "home"
    if request.param == "sqlite":
        yield load_settings(home=home, db_url="")
        dispose_engines()
        return
    if not PG_URL:
        if REQUIRE_PG:
            pytest.fail("TRUSTLAB_REQUIRE_PG=1 but TRUSTLAB_TEST_PG_URL is not set")
        pytest.skip("PostgreSQL not configured (set TRUSTLAB_TEST_PG_URL)")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield load_settings(home=home, db_url=_pg_schema_url(PG_URL, schema))
    finally:
        dispose_engines()
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def sqlite_settings(tmp_path) -> Settings:
    """SQLite only: for tests whose subject does not depend on the database backend."""
    yield load_settings(home=tmp_path / "home", db_url="")
    dispose_engines()



@pytest.fixture
def one_torch_thread():
    """Tests that train small models run on one torch thread: the 2 cores are shared with other jobs,
    and one thread wastes least under contention (about as fast for these tiny models)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
