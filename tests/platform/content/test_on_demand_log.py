"""A failed on-demand explanation does not block the rater, and it is never silent: the log says which
item, method and study failed, with the traceback."""

from __future__ import annotations

import logging

from trustlab.platform.content.on_demand import explanation_row
from trustlab.platform.content.study_cache import StudyContext
from trustlab.studies.config.study import load_study_config


class BrokenWorker:
    def request(self, model: str, item_id: int, method: str, timeout: float | None = None) -> None:
        raise RuntimeError(f"CUDA out of memory while explaining {item_id}")


def test_a_failed_explanation_is_logged_and_returns_none(sqlite_settings, caplog):
    config = load_study_config({
        "name": "s", "dataset": "d", "model": "m", "items": {"split": "test", "n": 4},
        "conditions": ["none", "gradcam"], "raters_per_item": 2, "items_per_rater": 4,
        "tasks": ["verify"],
    })
    ctx = StudyContext(id=1, name="s", status="open", dataset_id=1, model_version_id=1, model_name="m",
                       config=config, class_names=["a", "b"], questions=[])
    with caplog.at_level(logging.ERROR, logger="trustlab.platform.content.on_demand"):
        row = explanation_row(sqlite_settings, BrokenWorker(), ctx, item_id=7, method="gradcam")
    assert row is None
    [record] = caplog.records
    message = record.getMessage()
    assert "item 7" in message and "gradcam" in message and "'s'" in message
    assert record.exc_info is not None and "CUDA out of memory" in str(record.exc_info[1])
