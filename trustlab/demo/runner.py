"""`trustlab demo`'s runner: every stage of the loop that is not done yet, in order.

Each stage checks whether its result is already there (rows or files) and is skipped if so, so a
second run goes straight to serving. Stages call the same library functions as the CLI verbs.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from trustlab.config import Settings
from trustlab.demo.explaining import missing_explanations
from trustlab.demo.plan import FULL, DemoPlan, DemoResult, DemoStageError, StageResult
from trustlab.demo.stages import STAGES


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


def run_demo(settings: Settings, *, plan: DemoPlan = FULL, echo: Callable[[str], None] = print,
             progress: bool = True) -> DemoResult:
    """Run every stage of the loop that is not done yet; returns what happened and where to look."""
    started = time.perf_counter()
    settings.ensure_dirs()
    result = DemoResult()
    for name, is_done, run in STAGES:
        _stage(result, name, lambda f=is_done: f(settings, plan),
               lambda f=run: f(settings, plan, result, progress), echo)
    # The rest of the test split is explained after the server starts (``background``).
    result.remaining_explanations = missing_explanations(settings, plan)
    result.seconds = time.perf_counter() - started
    return result
