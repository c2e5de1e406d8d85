"""Rows for the query-module tests: a dataset with items, a model with predictions, an open study
and one rater with one assignment per item (written straight into the database, no files)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from trustlab.config import Settings
from trustlab.db.engine import unit_of_work
from trustlab.db.queries.assignments import add_assignments
from trustlab.db.queries.datasets import get_or_create_dataset
from trustlab.db.queries.items import add_items
from trustlab.db.queries.labels import ensure_labels
from trustlab.db.queries.models import add_model_version
from trustlab.db.queries.predictions import add_predictions
from trustlab.db.queries.studies import add_study
from trustlab.db.queries.users import add_user
from trustlab.db.schema import Assignment, Item, ModelVersion, Prediction, Study, StudyItem

CLASSES = ("cat", "dog")


@dataclass(frozen=True)
class QueryWorld:
    dataset_id: int
    model_version_id: int
    study_id: int
    rater_id: int
    item_ids: list[int]
    prediction_ids: list[int]
    assignment_ids: list[int]


def make_query_world(
    settings: Settings, *, n_items: int = 3, assigned_at: datetime | None = None
) -> QueryWorld:
    assigned_at = assigned_at or datetime.now(UTC)
    with unit_of_work(settings) as s:
        dataset = get_or_create_dataset(s, name="pets")
        ensure_labels(s, dataset_id=dataset.id, names=CLASSES)
        items = [
            Item(dataset_id=dataset.id, path=f"{i}.png", source_path=f"/src/{i}.png", sha256=f"{i:064x}",
                 width=8, height=8, split="test", original_label=CLASSES[i % 2], current_label=CLASSES[i % 2])
            for i in range(n_items)
        ]
        add_items(s, items=items)
        model = add_model_version(s, model=ModelVersion(
            name="m1", dataset_id=dataset.id, arch="simple_cnn", checkpoint_path="m1.pt",
            checkpoint_sha256="0" * 64, class_names=list(CLASSES), img_size=8))
        predictions = [
            Prediction(model_version_id=model.id, item_id=item.id, kind="holdout", probabilities=[0.7, 0.3],
                       predicted_label="cat", confidence=0.7)
            for item in items
        ]
        add_predictions(s, predictions=predictions)
        study = add_study(
            s,
            study=Study(name="st", dataset_id=dataset.id, model_version_id=model.id, config={},
                        status="open"),
            items=[StudyItem(item_id=item.id, model_correct=item.current_label == "cat") for item in items],
        )
        rater = add_user(s, username="r1", study_id=study.id)
        assignments = [
            Assignment(study_id=study.id, rater_id=rater.id, item_id=item.id, condition="none", position=i,
                       status="assigned", assigned_at=assigned_at)
            for i, item in enumerate(items)
        ]
        add_assignments(s, assignments=assignments)
        return QueryWorld(
            dataset_id=dataset.id, model_version_id=model.id, study_id=study.id, rater_id=rater.id,
            item_ids=[i.id for i in items], prediction_ids=[p.id for p in predictions],
            assignment_ids=[a.id for a in assignments],
        )
