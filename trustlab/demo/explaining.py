"""The demo's explanations, in two parts, so that the first run reaches the server sooner.

Before serving, only what the demo study shows: its items (regular and gold) x the methods of its
conditions, with faithfulness scores (the study's analysis sets those against the raters' answers).
After the server starts, ``complete_explanations`` fills in the rest of the test split with every
method of the plan (in a background process, see ``background``). Both go through
``explain_items`` / ``explain_split``, which skip what is stored (same method and parameters), so
either part can be stopped and run again, and a rater's on-demand request racing the background
job keeps one row (the unique constraint plus a savepoint in ``add_explanation``).

The ``*_done`` / counting functions stay torch-free, so a re-run that has nothing to do never
imports torch.
"""

from __future__ import annotations

from typing import Any

from trustlab.config import Settings
from trustlab.db.engine import unit_of_work
from trustlab.db.queries.datasets import find_dataset
from trustlab.db.queries.explanations import explanation_scores
from trustlab.db.queries.items import list_items
from trustlab.db.queries.models import find_model_version
from trustlab.db.queries.studies import get_study, study_exists, study_items
from trustlab.demo.plan import DATASET, MODEL, STUDY, DemoPlan, study_config
from trustlab.studies.config.study import load_study_config

# The split the demo's study draws from and the background job completes.
SPLIT = "test"


def explain_params(plan: DemoPlan) -> dict[str, dict[str, Any]]:
    """{method: parameter overrides} of every demo explanation (one parameter set, so the background
    job finds the study's explanations stored and skips them)."""
    return {"lime": {"num_samples": plan.lime_samples}}


def shown_methods(plan: DemoPlan) -> list[str]:
    """The methods the demo study's conditions show, in first-use order (e.g. gradcam, lime, twin)."""
    return load_study_config(study_config(plan)).methods


def all_methods(plan: DemoPlan) -> list[str]:
    """The study's methods, then the plan's other methods: what the test split gets in the end."""
    shown = shown_methods(plan)
    return shown + [m for m in plan.explain_methods if m not in shown]


def _model_id(settings: Settings) -> int | None:
    with unit_of_work(settings) as session:
        version = find_model_version(session, name=MODEL)
        return None if version is None else version.id


def study_item_ids(settings: Settings) -> list[int]:
    """Ids of the demo study's items, regular and gold ([] before the study exists)."""
    with unit_of_work(settings) as session:
        if not study_exists(session, name=STUDY):
            return []
        return [row.item_id for row in study_items(session, study_id=get_study(session, name=STUDY).id)]


def _explained(settings: Settings, model_id: int, item_ids: list[int]) -> set[tuple[int, str]]:
    """{(item_id, method)} of the model's stored holdout explanations (any parameters)."""
    with unit_of_work(settings) as session:
        rows = explanation_scores(session, model_version_id=model_id, item_ids=item_ids)
    return {(row["item_id"], row["method"]) for row in rows}


def missing_study_explanations(settings: Settings, plan: DemoPlan) -> int | None:
    """How many (study item, shown method) pairs lack an explanation; None before the model or the
    study exists. (``explain_study_run`` stores them with faithfulness scores, before any server
    could store one without.)"""
    model_id, items = _model_id(settings), study_item_ids(settings)
    if model_id is None or not items:
        return None
    stored = _explained(settings, model_id, items)
    return sum((item, method) not in stored for item in items for method in shown_methods(plan))


def missing_explanations(settings: Settings, plan: DemoPlan) -> int:
    """How many (test item, method of ``all_methods``) pairs the background job has still to explain."""
    model_id = _model_id(settings)
    with unit_of_work(settings) as session:
        dataset = find_dataset(session, name=DATASET)
        found = [] if dataset is None else list_items(session, dataset_id=dataset.id, split=SPLIT)
        items = [item.id for item in found]
    if model_id is None or not items:
        return 0
    stored = _explained(settings, model_id, items)
    return sum((item, method) not in stored for item in items for method in all_methods(plan))


def explain_study_done(settings: Settings, plan: DemoPlan) -> str | None:
    missing = missing_study_explanations(settings, plan)
    if missing == 0:
        n = len(study_item_ids(settings))
        return f"the study's {n} items have their {', '.join(shown_methods(plan))} explanations"
    return None


def explain_study_run(settings: Settings, plan: DemoPlan, result: Any, progress: bool) -> str:
    from trustlab.explain.precompute import ExplainOptions, explain_items

    items, methods = study_item_ids(settings), shown_methods(plan)
    if not items:
        raise RuntimeError(f"study {STUDY!r} has no items: create the study first")
    # Faithfulness scores (deletion/insertion/ROAD: dozens of forward passes each) are what the
    # report sets against the raters' answers: computed here for the items the raters see.
    rows = explain_items(settings, model=MODEL, item_ids=items, methods=methods,
                         options=ExplainOptions(params=explain_params(plan)), progress=progress)
    shown = ", ".join(methods)
    return f"{len(rows)} explanations of the study's {len(items)} items ({shown}, with faithfulness)"


def complete_explanations(settings: Settings, plan: DemoPlan, *, progress: bool = False) -> int:
    """Explain the whole test split with every method of the plan; returns how many were added.

    The study's methods come first and get faithfulness scores; the others (shown to nobody in the
    demo study, browsed by researchers) are stored without. Idempotent and resumable.
    """
    from trustlab.explain.precompute import ExplainOptions, explain_split

    before = missing_explanations(settings, plan)
    if before == 0:
        return 0
    shown = shown_methods(plan)
    others = [m for m in all_methods(plan) if m not in shown]
    params = explain_params(plan)
    explain_split(settings, model=MODEL, methods=shown, split=SPLIT, options=ExplainOptions(params=params),
                  progress=progress)
    if others:
        explain_split(settings, model=MODEL, methods=others, split=SPLIT,
                      options=ExplainOptions(params=params, faithfulness=False), progress=progress)
    return before - missing_explanations(settings, plan)
