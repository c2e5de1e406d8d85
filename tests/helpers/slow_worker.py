"""An explanation worker whose computation is slow (a real sleep), for tests of waiting for explanations."""

from __future__ import annotations

import time

from tests.helpers.platform_world import png_bytes, write_artifact
from trustlab.db.engine import unit_of_work
from trustlab.db.queries.predictions import get_prediction
from trustlab.db.schema import Explanation
from trustlab.platform.content.worker import ExplanationWorker

WAIT_S = 0.3  # how long a request waits for the worker before answering "pending"
SLOW_S = 4.0  # how long the slow explainer takes per batch


class SlowWorker(ExplanationWorker):
    """The real worker whose computation takes SLOW_S (a real sleep) and then stores real rows: an
    overlay artifact and an Explanation per item, as explain_items would."""

    def __init__(self, settings, model_version_id: int, *, slow_s: float = SLOW_S) -> None:
        super().__init__(settings, explain_fn=self._compute, wait_s=WAIT_S)
        self.model_version_id = model_version_id
        self.slow_s = slow_s

    def _compute(self, settings, *, model, item_ids, methods):
        time.sleep(self.slow_s)
        with unit_of_work(settings) as s:
            for item_id in item_ids:
                prediction = get_prediction(s, model_version_id=self.model_version_id, item_id=item_id)
                for method in methods:
                    s.add(Explanation(prediction_id=prediction.id, method=method, params_key="default",
                                      overlay_path=write_artifact(settings, png_bytes(item_id))))
        return []
