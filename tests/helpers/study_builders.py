"""Seeded builders for study tests: a model with planted errors, studies, raters, judgements.

Rows are written straight into the database (the platform's REST API is not needed to test design
and analysis)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import select

from tests.helpers.builders import make_image_dataset
from trustlab.config import Settings
from trustlab.db.engine import unit_of_work
from trustlab.db.schema import Assignment, Item, Judgement, ModelVersion, Prediction, Study, User
from trustlab.studies.design.create import create_study, open_study


def make_model(
    settings: Settings, *, dataset_id: int, name: str = "cnn", error_rate: float = 0.3, seed: int = 0
) -> int:
    """A ModelVersion row with a holdout prediction for every item; ``error_rate`` of them wrong."""
    rng = np.random.default_rng(seed)
    with unit_of_work(settings) as s:
        items = list(s.scalars(select(Item).where(Item.dataset_id == dataset_id).order_by(Item.id)))
        classes = sorted({i.current_label for i in items})
        model = ModelVersion(
            name=name,
            dataset_id=dataset_id,
            arch="simple_cnn",
            checkpoint_path="x",
            checkpoint_sha256="0" * 64,
            class_names=classes,
            img_size=32,
        )
        s.add(model)
        s.flush()
        for item in items:
            wrong = rng.random() < error_rate
            label = item.current_label
            if wrong:
                label = [c for c in classes if c != item.current_label][int(rng.integers(len(classes) - 1))]
            confidence = float(rng.uniform(0.5, 1.0))
            probs = [confidence if c == label else (1 - confidence) / (len(classes) - 1) for c in classes]
            s.add(
                Prediction(
                    model_version_id=model.id,
                    item_id=item.id,
                    kind="holdout",
                    probabilities=probs,
                    predicted_label=label,
                    confidence=confidence,
                )
            )
        s.commit()
        return model.id


def study_config(**overrides: Any) -> dict[str, Any]:
    config: dict[str, Any] = {
        "name": "s1",
        "dataset": "shapes",
        "model": "cnn",
        "items": {"split": "test", "n": 12, "model_errors": 0.25},
        "conditions": ["none", "gradcam", "twin"],
        "design": "within",
        "raters_per_item": 3,
        "items_per_rater": 6,
        "tasks": ["verify", "true_label", "trust"],
        "likert_points": 7,
        "gold": {"n": 0, "max_failures": 0},
        "seed": 0,
    }
    config.update(overrides)
    return config


def make_study(
    settings: Settings,
    *,
    classes: Sequence[str] = ("square", "disc", "cross"),
    per_class: dict[str, int] | None = None,
    error_rate: float = 0.3,
    open_it: bool = True,
    data_seed: int = 0,
    allow_unbalanced: bool = True,
    **overrides: Any,
) -> Study:
    """Dataset + model + study (opened) in one call; overrides go into the study config. Small test
    studies need not balance (``allow_unbalanced``); test_studies_balance.py checks the refusal."""
    per_class = per_class or {"train": 1, "test": 8}
    dataset_id = make_image_dataset(
        settings, name="shapes", classes=tuple(classes), per_class=per_class, size=16, seed=data_seed
    )
    make_model(settings, dataset_id=dataset_id, error_rate=error_rate, seed=data_seed)
    study = create_study(settings, study_config(**overrides), allow_unbalanced=allow_unbalanced)
    return open_study(settings, study.name) if open_it else study


def make_raters(settings: Settings, *, study_id: int, n: int, prefix: str = "r") -> list[int]:
    with unit_of_work(settings) as s:
        raters = [
            User(username=f"{prefix}{j}-{uuid.uuid4().hex[:6]}", role="rater", study_id=study_id)
            for j in range(n)
        ]
        s.add_all(raters)
        s.commit()
        return [r.id for r in raters]


def add_judgement(
    settings: Settings,
    *,
    study_id: int,
    rater_id: int,
    item_id: int,
    answers: dict[str, Any],
    condition: str = "none",
    position: int = 0,
    is_gold: bool = False,
    response_ms: float = 1500.0,
) -> int:
    """An assignment marked done with one judgement (as the platform would store it)."""
    now = datetime.now(UTC)
    with unit_of_work(settings) as s:
        assignment = Assignment(
            study_id=study_id,
            rater_id=rater_id,
            item_id=item_id,
            condition=condition,
            position=position,
            is_gold=is_gold,
            status="done",
            assigned_at=now,
            completed_at=now + timedelta(milliseconds=response_ms),
        )
        s.add(assignment)
        s.flush()
        judgement = Judgement(
            assignment_id=assignment.id,
            answers=answers,
            idempotency_key=uuid.uuid4().hex,
            response_ms=response_ms,
        )
        s.add(judgement)
        s.commit()
        return judgement.id


def complete(
    settings: Settings,
    assignment_id: int,
    answers: dict[str, Any],
    response_ms: float = 1500.0,
    when: datetime | None = None,
) -> int:
    """Answer an existing assignment: a judgement row and status done, in one transaction."""
    when = when or datetime.now(UTC)
    with unit_of_work(settings) as s:
        assignment = s.get(Assignment, assignment_id)
        assignment.status = "done"
        assignment.completed_at = when
        judgement = Judgement(
            assignment_id=assignment_id,
            answers=answers,
            idempotency_key=uuid.uuid4().hex,
            response_ms=response_ms,
        )
        s.add(judgement)
        s.commit()
        return judgement.id


def simulate_in_db(
    settings: Settings, *, study: Study, n_raters: int, profile: Any = None, seed: int = 0
) -> int:
    """Synthetic raters at the answer-model level, written straight into the database (fast; the REST
    path is tested separately). Raters arrive in turn; each answers their whole list. Returns the
    number of judgements."""
    from trustlab.studies.config.study import load_study_config
    from trustlab.studies.design.assign import next_assignment
    from trustlab.studies.questions import questions_for, validate_answers
    from trustlab.studies.simulate import SimulatedRater, load_profile, study_truth

    prof = load_profile(profile)
    truth, classes = study_truth(settings, study.name)
    config = load_study_config(study.config)
    questions = questions_for(config, classes)
    raters = make_raters(settings, study_id=study.id, n=n_raters, prefix="sim")
    count = 0
    for index, rater_id in enumerate(raters):
        rater = SimulatedRater.make(prof, seed=seed, index=index)
        with unit_of_work(settings) as s:
            if next_assignment(s, study_id=study.id, rater_id=rater_id) is None:
                continue
            mine = list(
                s.scalars(
                    select(Assignment)
                    .where(Assignment.study_id == study.id, Assignment.rater_id == rater_id)
                    .order_by(Assignment.position)
                )
            )
            now = datetime.now(UTC)
            for assignment in mine:
                answers, elapsed = rater.answer(
                    item_id=assignment.item_id,
                    condition=assignment.condition,
                    truth=truth[assignment.item_id],
                    questions=questions,
                    classes=classes,
                )
                answers = validate_answers(config, answers, classes)
                assignment.status = "done"
                assignment.completed_at = now
                s.add(
                    Judgement(
                        assignment_id=assignment.id,
                        answers=answers,
                        idempotency_key=uuid.uuid4().hex,
                        response_ms=elapsed,
                        client_elapsed_ms=elapsed,
                    )
                )
                count += 1
            s.commit()
    return count
