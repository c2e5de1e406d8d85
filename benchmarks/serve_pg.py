"""A throw-away PostgreSQL schema for bench_serve.py (the plain run and --burst), and the CPU time of
the database backends that served it.

The schema is created in the database at the given URL and dropped afterwards, so a run never touches
existing tables (a role that may not create databases can still run it). Every connection made through
the returned URL carries the schema's name as its ``application_name``, so the run's backends can be
found in ``pg_stat_activity`` and their CPU time read from /proc (when the server runs on this machine).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from urllib.parse import quote

from serve_server import process_cpu_seconds


class ThrowawaySchema:
    """A fresh schema in the database at ``base_url``; ``url`` reaches it, ``drop()`` removes it."""

    def __init__(self, base_url: str) -> None:
        from sqlalchemy import create_engine, text

        self.name = f"bench_{uuid.uuid4().hex[:10]}"
        self._admin = create_engine(base_url)
        with self._admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{self.name}"'))
        sep = "&" if "?" in base_url else "?"
        self.url = (f"{base_url}{sep}options={quote(f'-csearch_path={self.name}')}"
                    f"&application_name={self.name}")

    def backend_pids(self) -> list[int]:
        """The server processes of the connections open on this schema's URL now."""
        from sqlalchemy import text

        with self._admin.connect() as conn:
            rows = conn.execute(text("SELECT pid FROM pg_stat_activity WHERE application_name = :name"),
                                {"name": self.name})
            return [int(pid) for (pid,) in rows]

    def backend_cpu(self) -> dict[int, float]:
        """pid -> CPU seconds of every open backend (NaN ones left out: not on this machine, or gone)."""
        cpu = {pid: process_cpu_seconds(pid) for pid in self.backend_pids()}
        return {pid: s for pid, s in cpu.items() if s == s}

    def drop(self) -> None:
        from sqlalchemy import text

        with self._admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{self.name}" CASCADE'))
        self._admin.dispose()


def throwaway_schema(base_url: str) -> tuple[str, Callable[[], None]]:
    """(URL of a fresh schema in ``base_url``'s database, a function that drops it)."""
    schema = ThrowawaySchema(base_url)
    return schema.url, schema.drop
