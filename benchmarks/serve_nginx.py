"""nginx in front of several `trustlab serve` workers, for bench_serve.py --burst --workers N.

The site is deploy/nginx.conf itself (the file the README shows), rendered with the run's ports and
without TLS: its ``listen 443 ssl`` line becomes a loopback port, its server_name and certificate lines
are dropped, and the two documented worker lines of each upstream become the run's N workers. Every
replaced line must exist in the file, so the benchmark measures the documented config, not a copy that
can drift. nginx runs as a non-daemon child of the benchmark with its pid, logs and temp files in one
folder; its access log names the worker ($upstream_addr) of every request.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import time
from collections import Counter
from pathlib import Path

import httpx
from serve_server import free_port, tree_cpu_seconds

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "deploy" / "nginx.conf"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
DOCUMENTED_WORKERS = "    server 127.0.0.1:7861;\n    server 127.0.0.1:7862;\n"
DOCUMENTED_LISTEN = "    listen 443 ssl;\n"
ROUTE_COOKIE = "trustlab_route"
# Each UI participant holds a keep-alive connection and an event stream, each proxied to a worker.
WORKER_CONNECTIONS = 8192
START_TIMEOUT_S = 30


def render_site(template: str, *, listen_port: int, worker_ports: list[int]) -> str:
    """deploy/nginx.conf's server/upstream/map blocks with these ports, plain HTTP on loopback."""
    if template.count(DOCUMENTED_WORKERS) != 2 or DOCUMENTED_LISTEN not in template:
        raise RuntimeError(f"{TEMPLATE} changed (its listen line or upstream servers): update serve_nginx.py")
    workers = "".join(f"    server 127.0.0.1:{port};\n" for port in worker_ports)
    site = template.replace(DOCUMENTED_WORKERS, workers).replace(DOCUMENTED_LISTEN,
                                                                 f"    listen 127.0.0.1:{listen_port};\n")
    dropped = ("ssl_certificate", "server_name")
    return "".join(line for line in site.splitlines(keepends=True) if not line.strip().startswith(dropped))


def nginx_conf(run: Path, site: str) -> str:
    """The whole nginx.conf around ``site``: everything nginx writes lives under ``run``."""
    user = f"user {pwd.getpwuid(os.geteuid()).pw_name};" if os.geteuid() == 0 else ""
    temp = "\n".join(f"    {kind}_temp_path {run}/{kind};"
                     for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    return f"""daemon off;
master_process on;
{user}
worker_processes 1;
worker_rlimit_nofile {2 * WORKER_CONNECTIONS};
pid {run}/nginx.pid;
error_log {run}/error.log warn;
events {{ worker_connections {WORKER_CONNECTIONS}; }}
http {{
    log_format trustlab '$request_method $uri $upstream_addr';
    access_log {run}/access.log trustlab;
{temp}
{site}
}}
"""


class Proxy:
    """nginx on a free loopback port in front of ``worker_ports``, running the rendered config."""

    def __init__(self, run: Path, worker_ports: list[int]) -> None:
        self.run = run
        self.port = free_port()
        self.worker_ports = worker_ports
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _nginx(self, *extra: str) -> list[str]:
        return [NGINX, *extra, "-p", str(self.run), "-c", str(self.run / "nginx.conf"),
                "-e", str(self.run / "error.log")]

    def start(self) -> None:
        self.run.mkdir(parents=True, exist_ok=True)
        site = render_site(TEMPLATE.read_text(), listen_port=self.port, worker_ports=self.worker_ports)
        (self.run / "nginx.conf").write_text(nginx_conf(self.run, site))
        test = subprocess.run(self._nginx("-t"), capture_output=True, text=True)
        if test.returncode != 0:
            raise RuntimeError(f"nginx -t refused {self.run / 'nginx.conf'}: {test.stderr[-2000:]}")
        self.proc = subprocess.Popen(self._nginx(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("nginx exited: " + self.proc.stderr.read().decode()[-2000:])
            try:
                if httpx.get(f"{self.url}/api/v1/health", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"nginx did not answer within {START_TIMEOUT_S} s")

    def cpu_seconds(self) -> float:
        """CPU time of nginx's master and worker so far."""
        return tree_cpu_seconds(self.proc.pid) if self.proc is not None else float("nan")

    def requests_per_worker(self, prefix: str = "/gradio_api/") -> dict[int, int]:
        """How many logged requests under ``prefix`` each worker port answered (0 for none)."""
        counts: Counter[int] = Counter()
        log = self.run / "access.log"
        for line in log.read_text().splitlines() if log.exists() else []:
            _method, uri, upstream = line.split(" ", 2)
            if uri.startswith(prefix) and upstream != "-":
                # a retried request logs "a, b": the last address answered it
                counts[int(upstream.split(",")[-1].strip().rsplit(":", 1)[1])] += 1
        return {port: counts.get(port, 0) for port in self.worker_ports}

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()  # SIGTERM: nginx's fast shutdown
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
