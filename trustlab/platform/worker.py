"""The on-demand explanation worker: one thread that batches concurrent requests per model.

When a rater's next item lacks a precomputed explanation, the request thread calls
``ExplanationWorker.request`` and waits. The worker thread takes the first queued request, keeps
collecting for ``window_s`` (a few ms) so that requests from other raters arriving at the same
time join it, then makes one ``explain_items`` call per (model, method) group: raters wait at most
one batch for one another, and a GPU gets whole batches.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from trustlab.config import Settings

log = logging.getLogger(__name__)

DEFAULT_WINDOW_S = 0.005
DEFAULT_MAX_BATCH = 16
DEFAULT_TIMEOUT_S = 120.0

ExplainFn = Callable[..., Sequence[Any]]


@dataclass
class _Request:
    model: str
    item_id: int
    method: str
    future: Future = field(default_factory=Future)


class _ExplainWithLoadedModels:
    """``explain_items`` keeping each model loaded between batches (loading costs more than a batch).

    Faithfulness scores are skipped on demand (a rater is waiting); ``trustlab explain`` adds them.
    """

    def __init__(self) -> None:
        self._models: dict[str, Any] = {}

    def __call__(
        self, settings: Settings, *, model: str, item_ids: list[int], methods: list[str]
    ) -> Sequence[Any]:
        # Imported late: torch is needed only when something must be computed.
        from trustlab.explain.precompute import explain_items
        from trustlab.models.checkpoint import load_model

        loaded = self._models.get(model)
        if loaded is None:
            loaded = self._models[model] = load_model(settings, model)
        return explain_items(
            settings, model=model, item_ids=item_ids, methods=methods, loaded=loaded, faithfulness=False
        )


class ExplanationWorker:
    """Batches ``request(model, item_id, method)`` calls into ``explain_fn`` calls.

    explain_fn: ``explain_items(settings, *, model, item_ids, methods)``, which stores what is
        missing; waiting callers then read the stored rows (default: trustlab.explain's
        ``explain_items`` with each model loaded once).
    window_s: how long to wait for more requests after the first one (seconds).
    max_batch: most items in one call.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        explain_fn: ExplainFn | None = None,
        window_s: float = DEFAULT_WINDOW_S,
        max_batch: int = DEFAULT_MAX_BATCH,
    ) -> None:
        self.settings = settings
        self._explain_fn = explain_fn or _ExplainWithLoadedModels()
        self.window_s = window_s
        self.max_batch = max_batch
        self._queue: queue.Queue[_Request | None] = queue.Queue()
        self._inflight: dict[tuple[str, int, str], Future] = {}
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self.calls: list[tuple[str, str, list[int]]] = []  # (model, method, item_ids) per call

    def request(self, model: str, item_id: int, method: str, *, timeout: float = DEFAULT_TIMEOUT_S) -> None:
        """Compute (or join the computation of) one explanation; raises what the computation raised."""
        return self.submit(model, item_id, method).result(timeout=timeout)

    def submit(self, model: str, item_id: int, method: str) -> Future:
        key = (model, item_id, method)
        with self._lock:
            future = self._inflight.get(key)
            if future is not None:
                return future
            req = _Request(model, item_id, method)
            self._inflight[key] = req.future
            self._ensure_thread()
        self._queue.put(req)
        return req.future

    def close(self) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout=5)
            self._thread = None

    def _ensure_thread(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._run, name="explanation-worker", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            deadline = time.monotonic() + self.window_s
            while len(batch) < self.max_batch:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                try:
                    nxt = self._queue.get(timeout=remaining)
                except queue.Empty:
                    break
                if nxt is None:
                    self._queue.put(None)  # stop after this batch
                    break
                batch.append(nxt)
            self._process(batch)

    def _process(self, batch: list[_Request]) -> None:
        groups: dict[tuple[str, str], list[_Request]] = {}
        for req in batch:
            groups.setdefault((req.model, req.method), []).append(req)
        for (model, method), reqs in groups.items():
            item_ids = sorted({r.item_id for r in reqs})
            self.calls.append((model, method, item_ids))
            try:
                # The caller reads the stored row afterwards; the worker only says "done".
                self._explain_fn(self.settings, model=model, item_ids=item_ids, methods=[method])
                for req in reqs:
                    req.future.set_result(True)
            except Exception as exc:  # noqa: BLE001 - every waiting rater must hear about the failure
                log.warning("explaining %d items of %s with %s failed", len(item_ids), model, method,
                            exc_info=True)
                for req in reqs:
                    if not req.future.done():
                        req.future.set_exception(exc)
            finally:
                with self._lock:
                    for req in reqs:
                        self._inflight.pop((req.model, req.item_id, req.method), None)
