"""The ingested datasets as a table (`trustlab datasets`)."""

from __future__ import annotations

from dataclasses import dataclass

from trustlab.config import Settings
from trustlab.db.engine import read_session
from trustlab.db.queries.datasets import dataset_names, get_dataset, split_counts
from trustlab.db.queries.labels import class_names


@dataclass(frozen=True)
class DatasetSummary:
    """One dataset: its classes in order and its items per split and current label."""

    name: str
    classes: list[str]
    items: int
    splits: dict[str, dict[str, int]]


def list_datasets(settings: Settings) -> list[DatasetSummary]:
    """Every dataset, by name, with its item counts {split: {current label: items}}."""
    out = []
    with read_session(settings) as session:
        for name in dataset_names(session):
            dataset = get_dataset(session, name=name)
            counts = split_counts(session, dataset_id=dataset.id)
            out.append(DatasetSummary(name=name, classes=class_names(session, dataset_id=dataset.id),
                                      items=sum(sum(c.values()) for c in counts.values()),
                                      splits={s: dict(sorted(c.items())) for s, c in sorted(counts.items())}))
    return out
