"""`trustlab doctor`: what a user needs to know before a study, each finding with its fix.

Checks: the pinned packages (installed versions against requirements.txt), CUDA and its device, the
database (reachable, at the newest migration), TRUSTLAB_HOME (writable, free space), Chromium for the
browser tests and the offline settings. A ``fail`` is something trustlab needs (the command exits 1);
a ``warn`` is worth knowing but does not stop a study.
"""

from __future__ import annotations

import importlib.metadata
import os
import re
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from trustlab.config import Settings
from trustlab.db.health import database_health

OK, WARN, FAIL = "ok", "warn", "fail"
REQUIREMENTS = Path(__file__).resolve().parents[1] / "requirements.txt"
CHROMIUM_PATHS = ("/usr/bin/chromium", "/usr/bin/chromium-browser")
# Below this much free space under TRUSTLAB_HOME a study's images and explanations may not fit.
MIN_FREE_GIB = 2.0
GIB = 1024**3
# The environment that keeps trustlab offline (docs/deployment.md, "Configuration"): variable -> value.
OFFLINE_ENV = {"GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1", "HF_HUB_DISABLE_TELEMETRY": "1"}


@dataclass(frozen=True)
class Finding:
    """One check: ``status`` ok, warn or fail; ``detail`` what was found; ``fix`` what to do (or None)."""

    check: str
    status: str
    detail: str
    fix: str | None = None


def pinned_versions(path: Path = REQUIREMENTS) -> dict[str, str]:
    """{distribution name: pinned version} from a requirements file's ``name==version`` lines."""
    pins = {}
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if "==" in line:
            name, version = line.split("==", 1)
            pins[re.sub(r"\[.*\]", "", name).strip()] = version.strip()
    return pins


def check_packages(path: Path = REQUIREMENTS) -> Finding:
    if not path.is_file():
        return Finding("packages", WARN, f"{path} not found (an installed copy): versions not compared")
    missing, different = [], []
    for name, pinned in pinned_versions(path).items():
        try:
            installed = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            missing.append(name)
            continue
        if installed.split("+", 1)[0] != pinned:
            different.append(f"{name} {installed} (pinned {pinned})")
    fix = f"pip install -r {path}"
    if missing:
        return Finding("packages", FAIL, f"not installed: {', '.join(missing)}", fix)
    if different:
        return Finding("packages", WARN, f"other versions than pinned: {'; '.join(different)}", fix)
    return Finding("packages", OK, f"all {len(pinned_versions(path))} pinned versions installed")


def check_cuda() -> Finding:
    import torch

    if not torch.cuda.is_available():
        return Finding("cuda", OK, f"no CUDA device: runs on the CPU (torch {torch.__version__})")
    index = torch.cuda.current_device()
    return Finding("cuda", OK, f"{torch.cuda.device_count()} device(s); cuda:{index} is "
                               f"{torch.cuda.get_device_name(index)} (torch {torch.__version__})")


def check_database(settings: Settings) -> Finding:
    health = database_health(settings.database_url)
    where = health.url
    if not health.reachable:
        missing_file = (health.error or "").startswith("no database file")
        fix = ("run `trustlab db upgrade` to create it" if missing_file
               else "check TRUSTLAB_DB_URL (host, port, user, password) and that the server runs")
        return Finding("database", FAIL, f"{where}: not reachable ({health.error})", fix)
    if not health.at_head:
        return Finding("database", FAIL, f"{where}: at revision {health.revision or 'none'}, newest is "
                                         f"{health.head}", "run `trustlab db upgrade`")
    return Finding("database", OK, f"{where}: reachable, at the newest migration ({health.head})")


def check_home(settings: Settings, *, min_free_gib: float = MIN_FREE_GIB) -> Finding:
    home = settings.home
    existing = next((p for p in (home, *home.parents) if p.exists()), None)
    fix = "set TRUSTLAB_HOME to a folder you can write to"
    if existing is None or not existing.is_dir():
        return Finding("home", FAIL, f"TRUSTLAB_HOME={home}: {existing} is not a folder", fix)
    try:
        with tempfile.NamedTemporaryFile(dir=existing, prefix=".trustlab-doctor-"):
            pass
    except OSError as exc:
        detail = f"TRUSTLAB_HOME={home}: cannot write in {existing} ({exc.strerror})"
        return Finding("home", FAIL, detail, fix)
    free = shutil.disk_usage(existing).free / GIB
    state = "" if existing == home else f" (created on first use under {existing})"
    if free < min_free_gib:
        return Finding("home", WARN, f"TRUSTLAB_HOME={home}{state}: only {free:.1f} GiB free",
                       f"free space or point TRUSTLAB_HOME at a disk with {min_free_gib:g} GiB or more")
    return Finding("home", OK, f"TRUSTLAB_HOME={home}{state}: writable, {free:.1f} GiB free")


def check_chromium() -> Finding:
    found = next((p for p in CHROMIUM_PATHS if os.access(p, os.X_OK)), None) or shutil.which("chromium")
    if found is None:
        return Finding("chromium", WARN, "no Chromium: the browser tests (-m browser) cannot run",
                       "apt-get install chromium (Debian's build, at /usr/bin/chromium)")
    return Finding("chromium", OK, f"{found} (for the browser tests)")


def check_offline() -> Finding:
    wrong = [f"{k}={os.environ.get(k, '<unset>')}" for k, v in OFFLINE_ENV.items() if os.environ.get(k) != v]
    if wrong:
        wanted = " ".join(f"{k}={v}" for k, v in OFFLINE_ENV.items())
        return Finding("offline", WARN, f"not in force: {', '.join(wrong)}", f"export {wanted}")
    return Finding("offline", OK, ", ".join(f"{k}={v}" for k, v in OFFLINE_ENV.items()))


def run_checks(settings: Settings, *, requirements: Path = REQUIREMENTS) -> list[Finding]:
    """Every check, in the order shown; a check that crashes is reported as failed, not raised."""
    checks: list[tuple[str, Callable[[], Finding]]] = [
        ("packages", lambda: check_packages(requirements)),
        ("cuda", check_cuda),
        ("database", lambda: check_database(settings)),
        ("home", lambda: check_home(settings)),
        ("chromium", check_chromium),
        ("offline", check_offline),
    ]
    findings = []
    for name, check in checks:
        try:
            findings.append(check())
        except Exception as exc:  # noqa: BLE001 - a broken check is itself a finding
            findings.append(Finding(name, FAIL, f"the check failed: {type(exc).__name__}: {exc}"))
    return findings


def healthy(findings: list[Finding]) -> bool:
    """True when nothing needed is missing (warnings allowed)."""
    return all(f.status != FAIL for f in findings)
