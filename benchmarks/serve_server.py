"""`python -m trustlab serve` in a subprocess on a free loopback port, for bench_serve.py (started,
SIGKILLed midway for the durability check, restarted, stopped)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from trustlab.config import Settings

ROOT = Path(__file__).resolve().parents[1]
SERVER_START_TIMEOUT_S = 120


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def process_cpu_seconds(pid: int, *, reaped_children: bool = False) -> float:
    """CPU time (user + system) process ``pid`` has used so far (Linux /proc; NaN elsewhere or when it
    is gone); ``reaped_children``: plus that of its children it has waited for."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    ticks = int(fields[11]) + int(fields[12])
    if reaped_children:
        ticks += int(fields[13]) + int(fields[14])
    return ticks / os.sysconf("SC_CLK_TCK")


def tree_cpu_seconds(pid: int) -> float:
    """CPU time of ``pid``, its living descendants, and the children it has reaped."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(ppid, []).append(int(stat.parent.name))
    total, todo = 0.0, [pid]
    while todo:
        current = todo.pop()
        cpu = process_cpu_seconds(current, reaped_children=True)
        total += 0.0 if cpu != cpu else cpu  # NaN: it ended between the scan and the read
        todo.extend(children.get(current, []))
    return total


class Server:
    """`python -m trustlab serve` in a subprocess on a free loopback port."""

    def __init__(self, settings: Settings, *, log_dir: Path | None = None) -> None:
        self.port = free_port()
        # stderr (tracebacks of failed events) to a file: a pipe nobody reads would stall a chatty server
        self.log = log_dir / f"serve-{self.port}.log" if log_dir is not None else None
        self.settings = settings
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> float:
        env = dict(
            os.environ,
            TRUSTLAB_HOME=str(self.settings.home),
            GRADIO_ANALYTICS_ENABLED="False",
            HF_HUB_OFFLINE="1",
            PYTHONPATH=str(ROOT),
        )
        if self.settings.db_url:
            env["TRUSTLAB_DB_URL"] = self.settings.db_url
        t0 = time.monotonic()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "trustlab", "serve", "--port", str(self.port)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=self.log.open("ab") if self.log is not None else subprocess.PIPE,
        )
        while time.monotonic() - t0 < SERVER_START_TIMEOUT_S:
            if self.proc.poll() is not None:
                tail = self.log.read_text() if self.log is not None else self.proc.stderr.read().decode()
                raise RuntimeError(f"server exited: {tail[-2000:]}")
            try:
                if httpx.get(f"{self.url}/api/v1/health", timeout=1).status_code == 200:
                    return time.monotonic() - t0
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        raise RuntimeError("server did not answer within the timeout")

    def cpu_seconds(self) -> float:
        """CPU time (user + system) the server process has used so far (Linux /proc; NaN elsewhere)."""
        return float("nan") if self.proc is None else process_cpu_seconds(self.proc.pid)

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
