"""Create, open and close studies: resolve the dataset and model, select items and gold items.

Items are drawn from the config's split, stratified by whether the model's held-out prediction is
right, so that ``items.model_errors`` of them are model errors (as far as the split has errors). Gold
items (known answers, scored per rater) come from the rest of the split: predictions the model makes
with the highest confidence, half right and half wrong where possible, so their answers are clear.

Before storing, the assignment of the raters that fill the study is planned (``balance``); a study
whose numbers cannot balance is refused, naming the nearest numbers that do, unless
``allow_unbalanced``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from trustlab.clock import utc_now
from trustlab.config import Settings
from trustlab.db.engine import DbSession, read_session, unit_of_work
from trustlab.db.queries.datasets import get_dataset
from trustlab.db.queries.errors import NotFound
from trustlab.db.queries.imported_methods import imported_method_names, items_without_method
from trustlab.db.queries.items import get_item, list_items
from trustlab.db.queries.labels import latest_revision_ids
from trustlab.db.queries.models import get_model_version
from trustlab.db.queries.predictions import predictions_for_items
from trustlab.db.queries.studies import (
    add_study,
    get_study,
    set_study_status,
    study_exists,
    study_items,
    study_unblindings,
)
from trustlab.db.schema import Item, Prediction, Study, StudyItem
from trustlab.models.external import is_external
from trustlab.models.imported_kinds import layers_message, methods_it_cannot_run
from trustlab.studies.config.study import StudyConfig, load_study_config
from trustlab.studies.design.balance import nearest_balanced, realised_balance
from trustlab.studies.design.preregistered import record_at_open, study_preregistration
from trustlab.studies.judgements import model_correct
from trustlab.studies.monitoring.outcome_blinding import default_actor, record_unblinding
from trustlab.studies.questions import TASK_ANSWER
from trustlab.studies.recruitment.rules import ensure_codes, is_link_study

STATUSES = ("draft", "open", "closed")


class StudyError(ValueError):
    """A study cannot be created or changed as asked; the message names the input and the fix."""


class UnbalancedDesign(StudyError):
    """The study's numbers cannot balance; ``balance`` holds the realised balance (see balance.py)."""

    def __init__(self, message: str, balance: dict[str, Any]) -> None:
        super().__init__(message)
        self.balance = balance


def _check_balance(config: StudyConfig, rows: list[StudyItem], allow_unbalanced: bool) -> dict[str, Any]:
    """The realised balance; refused (UnbalancedDesign) when it is not balanced, unless
    ``allow_unbalanced`` (then the caller shows its problems as warnings)."""
    result = realised_balance(config, rows)
    if result["balanced"] or allow_unbalanced:
        return result
    nearest = nearest_balanced(config, raters_needed=result["raters"])
    raise UnbalancedDesign(
        "the study's numbers cannot balance: "
        + "; ".join(result["problems"])
        + (f". Nearest balanced numbers: {', '.join(nearest)}" if nearest else "")
        + ". Change them, or pass --allow-unbalanced (allow_unbalanced=True) to create it anyway",
        result,
    )


@dataclass(frozen=True)
class _Candidate:
    item: Item
    prediction: Prediction

    @property
    def correct(self) -> bool:
        """Is the model right about the item's label now (the label the study freezes)."""
        return bool(model_correct(None, self.prediction.predicted_label, self.item.current_label))


def _candidates(session: DbSession, config: StudyConfig, dataset_id: int, model_id: int) -> list[_Candidate]:
    if config.items.ids is not None:
        items = []
        for item_id in config.items.ids:
            try:
                item = get_item(session, item_id=item_id)
            except NotFound as exc:
                raise StudyError(f"items.ids: {exc}; list ids of dataset {config.dataset!r}") from None
            if item.dataset_id != dataset_id:
                raise StudyError(f"items.ids: item {item_id} is not in dataset {config.dataset!r}")
            items.append(item)
    else:
        items = list_items(session, dataset_id=dataset_id, split=config.items.split)
        if not items:
            raise StudyError(
                f"items.split: dataset {config.dataset!r} has no items in split {config.items.split!r}"
            )
    predictions = predictions_for_items(
        session, model_version_id=model_id, item_ids=[i.id for i in items]
    )
    missing = [i.id for i in items if i.id not in predictions]
    if config.items.ids is not None and missing:
        raise StudyError(
            f"items.ids: model {config.model!r} has no held-out prediction for items {missing[:10]}: "
            "predict them first (e.g. `trustlab explain` or `trustlab evaluate`)"
        )
    if not predictions:
        raise StudyError(
            f"model {config.model!r} has no held-out predictions for split {config.items.split!r}: "
            "run its predictions first (e.g. `trustlab explain` or `trustlab evaluate`)"
        )
    return [_Candidate(i, predictions[i.id]) for i in items if i.id in predictions]


def _select_regular(
    config: StudyConfig, pool: list[_Candidate], rng: np.random.Generator
) -> list[_Candidate]:
    n = config.items.count
    if config.items.ids is not None:
        return pool
    if len(pool) < n:
        raise StudyError(
            f"items.n is {n} but split {config.items.split!r} has only {len(pool)} items with predictions "
            f"(plus gold.n {config.gold.n} needed): lower items.n"
        )
    if config.items.model_errors is None:
        return [pool[j] for j in sorted(rng.choice(len(pool), size=n, replace=False))]
    wrong = [c for c in pool if not c.correct]
    right = [c for c in pool if c.correct]
    n_wrong = min(len(wrong), int(round(config.items.model_errors * n)))
    n_right = n - n_wrong
    if n_right > len(right):  # too few right predictions: take more errors instead
        n_right, n_wrong = len(right), n - len(right)
    picked = [wrong[j] for j in rng.choice(len(wrong), size=n_wrong, replace=False)]
    picked += [right[j] for j in rng.choice(len(right), size=n_right, replace=False)]
    return sorted(picked, key=lambda c: c.item.id)


def gold_answers_for(config: StudyConfig, candidate: _Candidate) -> dict[str, Any]:
    """The answers a careful rater gives on a gold item, for the tasks that have a known answer."""
    answers: dict[str, Any] = {}
    if "verify" in config.tasks:
        answers[TASK_ANSWER["verify"]] = candidate.correct
    if "true_label" in config.tasks:
        answers[TASK_ANSWER["true_label"]] = candidate.item.current_label
    if "simulate" in config.tasks:
        answers[TASK_ANSWER["simulate"]] = candidate.prediction.predicted_label
    return answers


def _select_gold(config: StudyConfig, rest: list[_Candidate]) -> list[_Candidate]:
    n = config.gold.n
    if n == 0:
        return []
    if len(rest) < n:
        raise StudyError(
            f"gold.n is {n} but only {len(rest)} items of split {config.items.split!r} are left after the "
            "study's items: lower gold.n or items.n"
        )
    by_confidence = sorted(rest, key=lambda c: (-c.prediction.confidence, c.item.id))
    wrong = [c for c in by_confidence if not c.correct]
    right = [c for c in by_confidence if c.correct]
    # Confident errors make clear "no" items only when verifying; otherwise prefer clear right ones.
    n_wrong = min(len(wrong), n // 2 if "verify" in config.tasks else 0)
    picked = wrong[:n_wrong] + right[: n - n_wrong]
    if len(picked) < n:
        picked += [c for c in wrong[n_wrong:]][: n - len(picked)]
    return picked


def _researcher_gold(
    session: DbSession, config: StudyConfig, dataset_id: int, model_id: int, regular_ids: set[int]
) -> list[_Candidate]:
    """The researcher's gold items (``gold.ids``): items of the dataset with a held-out prediction
    that are not among the study's regular items."""
    ids = list(config.gold.ids or [])
    predictions = predictions_for_items(session, model_version_id=model_id, item_ids=ids)
    out = []
    for item_id in ids:
        try:
            item = get_item(session, item_id=item_id)
        except NotFound as exc:
            raise StudyError(f"gold.ids: {exc}; list ids of dataset {config.dataset!r}") from None
        if item.dataset_id != dataset_id or item_id in regular_ids or item_id not in predictions:
            raise StudyError(
                f"gold.ids: item {item_id} is not a gold candidate: it must be in dataset "
                f"{config.dataset!r}, have a held-out prediction and not be one of the study's items"
            )
        out.append(_Candidate(item, predictions[item_id]))
    return out


def create_study(
    settings: Settings, config_or_path: StudyConfig | str | Path | dict, *, allow_unbalanced: bool = False
) -> Study:
    """Validate the config, select items and gold items, check the design's balance, store a draft.

    Raises
    ------
    StudyConfigError
        The config is invalid.
    UnbalancedDesign
        The numbers cannot balance (and not ``allow_unbalanced``); nothing is stored.
    StudyError / NotFound
        The study exists already, the dataset or model is unknown, or the split is too small.
    """
    with read_session(settings) as session:  # conditions may name imported methods
        config = load_study_config(config_or_path, imported_methods=imported_method_names(session))
    with unit_of_work(settings) as session:
        dataset, model = _dataset_and_model(session, config)
        rows = _study_items(session, config, dataset.id, model.id)
        _check_balance(config, rows, allow_unbalanced)
        _check_imported(session, config, model, [row.item_id for row in rows])
        study = Study(
            name=config.name,
            dataset_id=dataset.id,
            model_version_id=model.id,
            config=config.model_dump(mode="json"),
            status="draft",
            analysis_declared="analysis" in config.model_fields_set,
        )
        study = add_study(session, study=study, items=rows)
        if is_link_study(config):  # the codes a researcher enters on the platform exist from now on
            ensure_codes(session, study_id=study.id, config=config, now=utc_now())
        return study


def _dataset_and_model(session: DbSession, config: StudyConfig) -> tuple[Any, Any]:
    """The study's dataset and model, once the name is known to be free, the model to be trained on
    that dataset and able to run every method the conditions name."""
    if study_exists(session, name=config.name):
        raise StudyError(f"name: a study named {config.name!r} exists already; choose another name")
    dataset = get_dataset(session, name=config.dataset)
    model = get_model_version(session, name=config.model)
    if model.dataset_id != dataset.id:
        raise StudyError(
            f"model: {config.model!r} was trained on another dataset than {config.dataset!r}"
        )
    unrunnable = methods_it_cannot_run(model.arch, config.methods)
    if unrunnable:
        raise StudyError(f"conditions: model {config.model!r} cannot run {', '.join(unrunnable)}: "
                         + layers_message(config.model, model.arch, unrunnable[0]))
    return dataset, model


def _study_items(session: DbSession, config: StudyConfig, dataset_id: int, model_id: int) -> list[StudyItem]:
    """The study's regular items, then its gold items (the researcher's, or picked from the rest),
    each with its label frozen now."""
    pool = _candidates(session, config, dataset_id, model_id)
    rng = np.random.default_rng(config.seed)
    regular = _select_regular(config, pool, rng)
    chosen_ids = {c.item.id for c in regular}
    gold = (
        _researcher_gold(session, config, dataset_id, model_id, chosen_ids)
        if config.gold.ids is not None
        else _select_gold(config, [c for c in pool if c.item.id not in chosen_ids])
    )
    revisions = latest_revision_ids(session, item_ids=[c.item.id for c in [*regular, *gold]])
    return [
        StudyItem(
            item_id=c.item.id,
            is_gold=is_gold,
            model_correct=c.correct,
            gold_answers=gold_answers_for(config, c) if is_gold else None,
            # One truth for the whole study: the label now, and the revision it came from.
            label=c.item.current_label,
            label_revision_id=revisions.get(c.item.id),
        )
        for is_gold, chosen in ((False, regular), (True, gold))
        for c in chosen
    ]


def _check_imported(session: DbSession, config: StudyConfig, model: Any, item_ids: list[int]) -> None:
    """An imported method has no explanation but the imported maps: every item needs its map. A model
    trustlab cannot run (external) has no other explanations."""
    computed = [m for m in config.methods if m not in config.imported_methods]
    if is_external(model) and computed:
        raise StudyError(
            f"conditions: model {config.model!r} is external (imported predictions): it cannot be run, so "
            f"{', '.join(computed)} cannot be computed for it; use 'none' and imported methods"
        )
    for method in config.imported_methods:
        missing = items_without_method(session, model_version_id=model.id, method=method, item_ids=item_ids)
        if missing:
            raise StudyError(
                f"conditions: imported method {method!r} has no heatmap of model {config.model!r} for "
                f"items {missing[:10]}{' ...' if len(missing) > 10 else ''}: import them "
                "(`trustlab explanations import`), or list items that have one (items.ids)"
            )


def study_balance(settings: Settings, name: str) -> dict[str, Any]:
    """The realised balance of a stored study's design (``balance.realised_balance``)."""
    with unit_of_work(settings) as session:
        study = get_study(session, name=name)
        return realised_balance(
            load_study_config(study.config), study_items(session, study_id=study.id)
        )


def set_status(settings: Settings, name: str, status: str, *, actor: str | None = None) -> Study:
    """Open or close a study (a closed study gives out no assignments; it can be reopened).

    Closing unblinds the study's outcome numbers: when it was still blinded, an unblinding record
    (source ``close``, ``actor`` or the OS user) is appended in the same transaction, so a reopened
    study stays unblinded (see ``blinding``).
    """
    if status not in STATUSES:
        raise StudyError(f"status {status!r} is not one of {', '.join(STATUSES)}")
    with unit_of_work(settings) as session:
        study = get_study(session, name=name)
        if status == "closed" and not study_unblindings(session, study_id=study.id):
            record_unblinding(session, study_id=study.id, source="close", actor=actor)
        if status == "open":
            record_at_open(session, study, actor=actor or default_actor(), now=utc_now())
        return set_study_status(session, study_id=study.id, status=status)


def open_study(settings: Settings, name: str, *, actor: str | None = None) -> Study:
    """Open a study; its first opening records the analysis block as it stands (``preregistered``)."""
    return set_status(settings, name, "open", actor=actor)


def study_preregistration_of(settings: Settings, name: str) -> dict[str, Any]:
    """Whether the stored study's primary analysis is pre-registered (``preregistered``)."""
    with read_session(settings) as session:
        study = get_study(session, name=name)
        return study_preregistration(session, study, load_study_config(study.config))


def close_study(settings: Settings, name: str, *, actor: str | None = None) -> Study:
    """Close a study; this unblinds it (recorded with ``actor``, default the OS user)."""
    return set_status(settings, name, "closed", actor=actor)
