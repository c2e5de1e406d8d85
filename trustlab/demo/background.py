"""The demo's background job: ``complete_explanations`` in a child process while the server runs.

A child process rather than a thread in the server: it has its own interpreter lock, so the rater
pages stay responsive, and it runs at a lower CPU priority (``NICENESS``), so a rater's on-demand
explanation wins the cores over the background's batch. It writes through the same database (SQLite
in WAL mode lets the server read meanwhile; every explanation is its own short transaction) and the
same content-addressed artifact store (files written whole, then moved into place), so stopping it
at any moment leaves nothing half-written, and the next `trustlab demo` resumes it.

``python -m trustlab.demo.background PLAN_JSON [NICENESS]`` is the child's entry point.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path

from trustlab.config import Settings, load_settings
from trustlab.demo.explaining import complete_explanations
from trustlab.demo.plan import DemoPlan

# Added to the child's nice value: the server and its on-demand explanations come first.
NICENESS = 10
# Seconds to wait for the child after asking it to stop, before killing it.
STOP_WAIT_S = 10.0


def log_path(settings: Settings) -> Path:
    return settings.home / "logs" / "demo-background.log"


def start_background(settings: Settings, plan: DemoPlan, *, niceness: int = NICENESS) -> subprocess.Popen:
    """Start the child that explains what ``run_demo`` left for later; its output goes to
    ``log_path(settings)``. Stop it with :func:`stop_background`.

    niceness: added to the child's nice value (0: same priority as the server; on a busy machine a
    niced child gets little CPU, which is the point while raters wait, but slow in a test)."""
    log = log_path(settings)
    log.parent.mkdir(parents=True, exist_ok=True)
    # The child's settings are the server's (an empty URL means the SQLite file under the home).
    env = {**os.environ, "TRUSTLAB_HOME": str(settings.home), "TRUSTLAB_DB_URL": settings.db_url or ""}
    with log.open("a", encoding="utf-8") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "trustlab.demo.background", json.dumps(asdict(plan)), str(niceness)],
            stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, env=env,
        )


def stop_background(process: subprocess.Popen | None) -> None:
    """Stop the child if it still runs (what it stored stays; a later run resumes the rest)."""
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=STOP_WAIT_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def plan_from_json(text: str) -> DemoPlan:
    fields = json.loads(text)
    fields["explain_methods"] = tuple(fields["explain_methods"])
    return DemoPlan(**fields)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) not in (1, 2):
        print("usage: python -m trustlab.demo.background PLAN_JSON [NICENESS]", file=sys.stderr)
        return 2
    niceness = int(args[1]) if len(args) == 2 else NICENESS
    if niceness and hasattr(os, "nice"):
        os.nice(niceness)
    settings = load_settings()
    added = complete_explanations(settings, plan_from_json(args[0]), progress=False)
    print(f"demo background: {added} explanations added in {settings.home}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
