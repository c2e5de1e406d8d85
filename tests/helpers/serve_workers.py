"""Real `trustlab serve` worker processes for the scale-out tests (two workers, nginx in front)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

START_TIMEOUT_S = 60


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_worker(settings, port: int, log: Path | None = None) -> subprocess.Popen:
    """`trustlab serve --port PORT` on the settings' home and database, once it answers /health;
    its stderr goes to ``log`` (or a pipe)."""
    env = {**os.environ, "TRUSTLAB_HOME": str(settings.home), "TRUSTLAB_DB_URL": settings.database_url}
    stderr = log.open("wb") if log is not None else subprocess.PIPE
    proc = subprocess.Popen([sys.executable, "-m", "trustlab", "serve", "--port", str(port)], env=env,
                            stdout=subprocess.DEVNULL, stderr=stderr)
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = log.read_text()[-2000:] if log is not None else proc.stderr.read().decode()[-2000:]
            raise RuntimeError(f"serve worker exited: {tail}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.3)
    proc.kill()
    raise RuntimeError(f"serve worker on port {port} did not answer within {START_TIMEOUT_S} s")


@contextmanager
def serving(app, *, start_timeout_s: float = 60) -> Iterator[str]:
    """Serve ``app`` with uvicorn in a background thread of this process; yields its base URL."""
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + start_timeout_s
    while not server.started:
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
