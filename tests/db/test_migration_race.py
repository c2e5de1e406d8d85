"""Four workers migrating one fresh database at the same moment (on both backends): one migrates
under the lock, the others find the schema at head; every one exits 0."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text

from trustlab.db.engine import make_engine
from trustlab.db.migrate import alembic_config, current_revision

pytestmark = pytest.mark.slow  # four Python processes importing the whole CLI

WORKERS = 4
# Each worker imports the CLI first, then waits for the gate file, so that all of them run
# `trustlab db upgrade` at the same moment instead of one after another as their imports finish.
GATED_UPGRADE = """
import os, sys, time
from trustlab.cli import _load_verbs, main
_load_verbs()
open(sys.argv[2], "w").close()
while not os.path.exists(sys.argv[1]):
    time.sleep(0.002)
sys.argv = ["trustlab", "db", "upgrade"]
main()
"""
ROOT = Path(__file__).resolve().parents[2]


def test_four_workers_upgrade_one_fresh_database_at_once(settings, tmp_path):
    settings.ensure_dirs()
    env = {k: v for k, v in os.environ.items() if k != "TRUSTLAB_DB_URL"}
    env.update(TRUSTLAB_HOME=str(settings.home), PYTHONPATH=str(ROOT))
    if settings.db_url:
        env["TRUSTLAB_DB_URL"] = settings.db_url
    gate = tmp_path / "go"
    ready = [tmp_path / f"ready-{n}" for n in range(WORKERS)]
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", GATED_UPGRADE, str(gate), str(ready[n])],
            env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        for n in range(WORKERS)
    ]
    deadline = time.monotonic() + 240
    while not all(r.exists() for r in ready) and time.monotonic() < deadline:
        time.sleep(0.05)
    gate.touch()
    outcomes = [(w.wait(timeout=240), *w.communicate()) for w in workers]
    failed = [(rc, err[-1500:]) for rc, _out, err in outcomes if rc != 0]
    assert not failed, failed
    engine = make_engine(settings.database_url)
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert current_revision(engine) == head
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM alembic_version")).scalar_one() == 1
        assert {"judgements", "relabel_proposals", "study_unblindings"} <= set(
            inspect(connection).get_table_names()
        )
    engine.dispose()
