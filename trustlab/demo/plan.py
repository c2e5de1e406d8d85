"""What one demo run is: its sizes (``DemoPlan``), the names it creates, where its files go, and
what a run reports back (``DemoResult``). Plain data: no stage and no database access here.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from trustlab.config import Settings

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
    n_images=1200, epochs=10, crossval_folds=3, crossval_epochs=5,
    explain_methods=("gradcam", "gradcam++", "cam", "lime", "twin", "counterfactual_twin",
                     "integrated_gradients"),
    lime_samples=200, study_items=40, items_per_rater=20, raters_per_item=12, simulated_raters=20,
    img_size=96,
)
FAST = DemoPlan(
    n_images=240, epochs=4, crossval_folds=2, crossval_epochs=2,
    explain_methods=("gradcam", "lime", "twin"), lime_samples=64,
    study_items=12, items_per_rater=8, raters_per_item=6, simulated_raters=6,
)
CONDITIONS = ("none", "gradcam", "lime", "twin")
# raters_per_item leaves room beyond the simulated raters, so the printed invite link gives a person
# items to rate: capacity = study_items * raters_per_item > simulated_raters * items_per_rater.


def study_config(plan: DemoPlan) -> dict:
    """The demo study's config (``trustlab study create``'s YAML as a dict)."""
    return {
        "name": STUDY, "dataset": DATASET, "model": MODEL,
        "items": {"split": "test", "n": plan.study_items, "model_errors": 0.3, "ids": None},
        "conditions": list(CONDITIONS), "design": "within",
        "raters_per_item": plan.raters_per_item, "items_per_rater": plan.items_per_rater,
        "tasks": ["verify", "true_label", "trust", "helpfulness", "confidence"],
        "likert_points": 7, "show_prediction": True, "hide_condition": True,
        "gold": {"n": 2, "max_failures": 1}, "seed": plan.seed,
    }


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
    seconds: float = 0.0  # the whole run, skipped stages' checks included
    # (test item, method) pairs left to the background job that starts with the server
    remaining_explanations: int = 0


class DemoStageError(RuntimeError):
    """A demo stage failed; the message names the stage and the cause."""


def data_dir(settings: Settings) -> Path:
    return settings.home / "demo-data"


def report_dir(settings: Settings) -> Path:
    return settings.home / "reports" / STUDY


def credentials_file(settings: Settings) -> Path:
    return settings.home / "demo-credentials.json"


def save_credentials(settings: Settings, data: dict[str, str]) -> None:
    path = credentials_file(settings)
    existing = json.loads(path.read_text()) if path.exists() else {}
    existing.update(data)
    # Created with mode 0600 (never world-readable, not even for a moment), then moved into place.
    tmp = path.with_name(path.name + ".tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(json.dumps(existing, indent=2))
    os.replace(tmp, path)


def load_credentials(settings: Settings) -> dict[str, str]:
    path = credentials_file(settings)
    return json.loads(path.read_text()) if path.exists() else {}

