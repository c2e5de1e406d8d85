"""What bench_serve.py --burst runs against: one `trustlab serve` process (``workers=1``: no proxy, as
before), or N of them on the same TRUSTLAB_HOME and database behind nginx running deploy/nginx.conf, as
README "Deployment for many raters" documents; and the CPU time all of it used.

With N > 1 every client request goes through nginx: /api/v1 round-robin over the workers, the UI pinned
per browser by the ``trustlab_route`` cookie (the benchmark gives each participant its own value, as
distinct client addresses would get; without it, every participant from 127.0.0.1 lands on one worker).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

from serve_nginx import ROUTE_COOKIE, Proxy
from serve_pg import ThrowawaySchema
from serve_server import Server

from trustlab.config import Settings

# How often the database backends' CPU is read: a backend that closes midway (a pool's overflow
# connection) keeps the time it had at the last reading.
BACKEND_POLL_S = 1.0


@dataclass(frozen=True)
class CpuSample:
    """CPU seconds used so far by the workers, nginx (0 without it) and the database backends
    (pid -> seconds; empty for SQLite, whose work happens inside the workers)."""

    workers: float
    nginx: float
    backends: dict[int, float]

    def since(self, start: CpuSample) -> dict[str, float]:
        """Seconds used between ``start`` and this sample, per part. A backend that closed meanwhile is
        not counted; one that opened meanwhile counts from its start."""
        return {
            "workers": self.workers - start.workers,
            "nginx": self.nginx - start.nginx,
            "db": sum(s - start.backends.get(pid, 0.0) for pid, s in self.backends.items()),
        }


class Deployment:
    """``workers`` servers on ``settings`` (one home, one database); nginx in front of them when there is
    more than one (its files under ``run``). ``schema``: the PostgreSQL schema the database URL reaches,
    whose backends' CPU is counted."""

    def __init__(self, settings: Settings, *, workers: int, run: Path,
                 schema: ThrowawaySchema | None = None) -> None:
        if workers < 1:
            raise ValueError(f"--workers must be at least 1, not {workers}")
        run.mkdir(parents=True, exist_ok=True)
        self.run = run  # the workers' logs (serve-PORT.log) and nginx's files
        self.servers = [Server(settings, log_dir=run) for _ in range(workers)]
        self.proxy = Proxy(run, [s.port for s in self.servers]) if workers > 1 else None
        self.schema = schema
        self._backends: dict[int, float] = {}  # pid -> CPU seconds at its last reading
        self._backends_lock = threading.Lock()
        self._stop_polling = threading.Event()
        self._poller: threading.Thread | None = None

    @property
    def url(self) -> str:
        return self.proxy.url if self.proxy is not None else self.servers[0].url

    def start(self) -> None:
        # One after the other: the first start migrates the database and creates the shared files.
        for server in self.servers:
            server.start()
        if self.proxy is not None:
            self.proxy.start()
        if self.schema is not None:
            self._poller = threading.Thread(target=self._poll_backends, daemon=True)
            self._poller.start()

    def _read_backends(self) -> dict[int, float]:
        current = self.schema.backend_cpu() if self.schema is not None else {}
        with self._backends_lock:
            self._backends.update(current)
            return dict(self._backends)

    def _poll_backends(self) -> None:
        while not self._stop_polling.wait(BACKEND_POLL_S):
            self._read_backends()

    def route_cookies(self, participant: int) -> dict[str, str]:
        """The cookies participant ``participant``'s client carries from its first request."""
        return {ROUTE_COOKIE: f"bench-{participant:06d}"} if self.proxy is not None else {}

    def cpu(self) -> CpuSample:
        return CpuSample(
            workers=sum(server.cpu_seconds() for server in self.servers),
            nginx=self.proxy.cpu_seconds() if self.proxy is not None else 0.0,
            backends=self._read_backends(),
        )

    def requests_per_worker(self, prefix: str) -> list[int]:
        """Requests under ``prefix`` (e.g. "/gradio_api/": the page's events and streams) each worker
        answered through nginx; [] without it."""
        return list(self.proxy.requests_per_worker(prefix).values()) if self.proxy is not None else []

    def stop(self) -> None:
        self._stop_polling.set()
        if self._poller is not None:
            self._poller.join(timeout=10)
        if self.proxy is not None:
            self.proxy.stop()
        for server in self.servers:
            server.stop()
