"""Development helper: regenerate the initial Alembic revision from trustlab/db/schema.py.

Only valid while no database outside development exists (before the first release); after that,
every schema change is a new revision: `alembic -c ... revision --autogenerate -m "..."`.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from alembic import command

from trustlab.db.engine import make_engine
from trustlab.db.migrate import MIGRATIONS_DIR, alembic_config

INITIAL = "0001_initial"

for old in (MIGRATIONS_DIR / "versions").glob("0001_*.py"):
    old.unlink()
with tempfile.TemporaryDirectory() as tmp:
    engine = make_engine(f"sqlite:///{Path(tmp) / 'empty.db'}")
    cfg = alembic_config(engine)
    command.revision(cfg, message="initial schema", autogenerate=True, rev_id="0001")
    produced = next((MIGRATIONS_DIR / "versions").glob("0001_*.py"))
    produced.rename(MIGRATIONS_DIR / "versions" / f"{INITIAL}.py")
    print(f"wrote {MIGRATIONS_DIR / 'versions' / (INITIAL + '.py')}")
