"""The whole trustlab loop on generated data: `trustlab demo` (see issue 8 / README).

Each stage checks whether its result is already there (rows or files) and is skipped if so, so a
second run goes straight to serving. Stages call the same library functions as the CLI verbs.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from trustlab.config import Settings
from trustlab.db.engine import session_for

DATASET = "demo"
MODEL = "cnn-demo"
STUDY = "demo-trust"
RESEARCHER = "researcher"
CURATOR = "curator"


@dataclass(frozen=True)
class DemoPlan:
    """Sizes of one demo run; ``fast`` is the small version the tests run."""

    n_images: int
    epochs: int
    crossval_folds: int
    crossval_epochs: int
    explain_methods: tuple[str, ...]
    lime_samples: int
    study_items: int
    items_per_rater: int
    raters_per_item: int
    simulated_raters: int
    img_size: int = 64
    seed: int = 0


FULL = DemoPlan(
    n_images=1200, epochs=15, crossval_folds=3, crossval_epochs=6,
    explain_methods=("gradcam", "gradcam++", "cam", "lime", "twin", "counterfactual_twin",
                     "integrated_gradients"),
    lime_samples=200, study_items=40, items_per_rater=20, raters_per_item=12, simulated_raters=20,
    img_size=80,
)
FAST = DemoPlan(
    n_images=240, epochs=4, crossval_folds=2, crossval_epochs=2,
    explain_methods=("gradcam", "lime", "twin"), lime_samples=64,
    study_items=12, items_per_rater=8, raters_per_item=6, simulated_raters=6,
)
CONDITIONS = ("none", "gradcam", "lime", "twin")
# raters_per_item leaves room beyond the simulated raters, so the printed invite link gives a person
# items to rate: capacity = study_items * raters_per_item > simulated_raters * items_per_rater.


@dataclass
class StageResult:
    name: str
    status: str  # "done" | "skipped" | "failed"
    seconds: float
    detail: str = ""


@dataclass
class DemoResult:
    stages: list[StageResult] = field(default_factory=list)
    invite_url: str | None = None
    researcher: tuple[str, str] | None = None
    curator: tuple[str, str] | None = None
    report: Path | None = None


class DemoStageError(RuntimeError):
    """A demo stage failed; the message names the stage and the cause."""


def _stage(result: DemoResult, name: str, is_done: Callable[[], str | None], run: Callable[[], str],
           echo: Callable[[str], None]) -> None:
    started = time.perf_counter()
    already = is_done()
    if already is not None:
        result.stages.append(StageResult(name, "skipped", time.perf_counter() - started, already))
        echo(f"[demo] {name}: already done ({already})")
        return
    echo(f"[demo] {name} ...")
    try:
        detail = run()
    except Exception as exc:  # noqa: BLE001 - re-raised with the stage named
        result.stages.append(StageResult(name, "failed", time.perf_counter() - started, str(exc)))
        raise DemoStageError(f"demo stage {name!r} failed: {exc}") from exc
    seconds = time.perf_counter() - started
    result.stages.append(StageResult(name, "done", seconds, detail))
    echo(f"[demo] {name}: {detail} ({seconds:.1f} s)")


def data_dir(settings: Settings) -> Path:
    return settings.home / "demo-data"


def report_dir(settings: Settings) -> Path:
    return settings.home / "reports" / STUDY


def run_demo(settings: Settings, *, plan: DemoPlan = FULL, echo: Callable[[str], None] = print,
             progress: bool = True) -> DemoResult:
    """Run every stage of the loop that is not done yet; returns what happened and where to look."""
    from trustlab.demo_stages import STAGES

    settings.ensure_dirs()
    result = DemoResult()
    for name, is_done, run in STAGES:
        _stage(result, name, lambda f=is_done: f(settings, plan),
               lambda f=run: f(settings, plan, result, progress), echo)
    return result


def credentials_file(settings: Settings) -> Path:
    return settings.home / "demo-credentials.json"


def save_credentials(settings: Settings, data: dict[str, str]) -> None:
    path = credentials_file(settings)
    existing = json.loads(path.read_text()) if path.exists() else {}
    existing.update(data)
    path.write_text(json.dumps(existing, indent=2))
    path.chmod(0o600)


def load_credentials(settings: Settings) -> dict[str, str]:
    path = credentials_file(settings)
    return json.loads(path.read_text()) if path.exists() else {}


def count_rows(settings: Settings, query) -> int:
    with session_for(settings) as session:
        return int(session.scalar(query) or 0)
