"""The explanation worker groups concurrent requests into one call per (model, method)."""

from __future__ import annotations

import threading
import time

import pytest

from trustlab.platform.content.worker import ExplanationWorker


class RecordingExplainer:
    def __init__(self, delay: float = 0.0, fail_for: int | None = None):
        self.calls: list[tuple[str, tuple[int, ...], tuple[str, ...]]] = []
        self.delay = delay
        self.fail_for = fail_for

    def __call__(self, settings, *, model, item_ids, methods):
        time.sleep(self.delay)
        self.calls.append((model, tuple(item_ids), tuple(methods)))
        if self.fail_for is not None and self.fail_for in item_ids:
            raise RuntimeError("model file missing")
        return []


def test_concurrent_requests_are_batched(sqlite_settings):
    explainer = RecordingExplainer()
    worker = ExplanationWorker(sqlite_settings, explain_fn=explainer, window_s=0.2)
    barrier = threading.Barrier(8)
    errors = []

    def rater(item_id: int):
        barrier.wait()
        try:
            worker.request("cnn", item_id, "lime", timeout=10)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=rater, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    worker.close()
    assert not errors
    # 8 raters at once: one call (or two if a thread was slow to start), never eight.
    assert len(explainer.calls) <= 2
    assert sorted(i for call in explainer.calls for i in call[1]) == list(range(8))


def test_groups_by_model_and_method_and_deduplicates(sqlite_settings):
    explainer = RecordingExplainer(delay=0.05)
    worker = ExplanationWorker(sqlite_settings, explain_fn=explainer, window_s=0.1)
    futures = [
        worker.submit("cnn", 1, "lime"),
        worker.submit("cnn", 1, "lime"),
        worker.submit("cnn", 2, "gradcam"),
        worker.submit("other", 3, "lime"),
    ]
    assert futures[0] is futures[1]
    for f in futures:
        f.result(timeout=10)
    worker.close()
    assert sorted(explainer.calls) == [
        ("cnn", (1,), ("lime",)),
        ("cnn", (2,), ("gradcam",)),
        ("other", (3,), ("lime",)),
    ]


def test_failure_reaches_every_waiting_request(sqlite_settings):
    worker = ExplanationWorker(sqlite_settings, explain_fn=RecordingExplainer(fail_for=5), window_s=0.05)
    a, b = worker.submit("cnn", 5, "lime"), worker.submit("cnn", 6, "lime")
    for f in (a, b):
        with pytest.raises(RuntimeError, match="model file missing"):
            f.result(timeout=10)
    # after a failure the worker keeps serving
    worker._explain_fn = RecordingExplainer()
    worker.request("cnn", 7, "lime", timeout=10)
    worker.close()
