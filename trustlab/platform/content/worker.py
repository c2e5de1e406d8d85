"""The on-demand explanation worker: one thread that batches concurrent requests per model.

When a rater's next item lacks a precomputed explanation, the request thread calls
``ExplanationWorker.request``, which waits at most ``wait_s`` (a second or two) and then raises
``ExplanationPending``: the computation goes on in the worker and the rater's page asks again later,
so a slow explanation never holds a request thread (or anything else) for long. The worker thread
takes the first queued request, keeps collecting for ``window_s`` (a few ms) so that requests from
other raters arriving at the same time join it, then makes one ``explain_items`` call per
(model, method) group: raters wait at most one batch for one another, and a GPU gets whole batches.

What the worker remembers is bounded: the last ``CALL_HISTORY`` calls (``calls``) and, for
``FAILURE_MEMORY_S``, the last ``MAX_FAILURES`` failures, so that a page polling for an explanation
that failed after its wait hears "failed" instead of starting the computation again on every poll.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future, wait
from dataclasses import dataclass, field
from typing import Any

from trustlab.config import Settings

log = logging.getLogger(__name__)

DEFAULT_WINDOW_S = 0.005
DEFAULT_MAX_BATCH = 16
# How long a request thread waits for an explanation before answering "pending" (seconds).
DEFAULT_WAIT_S = 1.5
# How many (model, method, item_ids) calls ``calls`` keeps (a long-running server makes millions).
CALL_HISTORY = 256
# A failed explanation is reported as failed (not recomputed) for this long, for this many keys.
FAILURE_MEMORY_S = 60.0
MAX_FAILURES = 1024


class ExplanationPending(Exception):
    """The explanation is still being computed after the caller's wait: ask again later."""

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
        from trustlab.explain.precompute import ExplainOptions, explain_items
        from trustlab.models.checkpoint import load_model

        loaded = self._models.get(model)
        if loaded is None:
            loaded = self._models[model] = load_model(settings, model)
        return explain_items(
            settings, model=model, item_ids=item_ids, methods=methods, loaded=loaded,
            options=ExplainOptions(faithfulness=False)
        )


class ExplanationWorker:
    """Batches ``request(model, item_id, method)`` calls into ``explain_fn`` calls.

    explain_fn: ``explain_items(settings, *, model, item_ids, methods)``, which stores what is
        missing; waiting callers then read the stored rows (default: trustlab.explain's
        ``explain_items`` with each model loaded once).
    window_s: how long to wait for more requests after the first one (seconds).
    max_batch: most items in one call.
    wait_s: how long ``request`` waits by default before raising ExplanationPending (seconds).
    """

    def __init__(
        self,
        settings: Settings,
        *,
        explain_fn: ExplainFn | None = None,
        window_s: float = DEFAULT_WINDOW_S,
        max_batch: int = DEFAULT_MAX_BATCH,
        wait_s: float = DEFAULT_WAIT_S,
    ) -> None:
        self.settings = settings
        self._explain_fn = explain_fn or _ExplainWithLoadedModels()
        self.window_s = window_s
        self.max_batch = max_batch
        self.wait_s = wait_s
        self._queue: queue.Queue[_Request | None] = queue.Queue()
        self._inflight: dict[tuple[str, int, str], Future] = {}
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._calls: deque[tuple[str, str, list[int]]] = deque(maxlen=CALL_HISTORY)
        self._failures: OrderedDict[tuple[str, int, str], tuple[float, BaseException]] = OrderedDict()
        self.call_count = 0  # every explain_fn call since start

    @property
    def calls(self) -> list[tuple[str, str, list[int]]]:
        """The last ``CALL_HISTORY`` calls as (model, method, item_ids), oldest first."""
        with self._lock:
            return list(self._calls)

    def request(self, model: str, item_id: int, method: str, *, timeout: float | None = None) -> None:
        """Compute (or join the computation of) one explanation, waiting at most ``timeout`` seconds
        (default ``wait_s``). Raises ExplanationPending when it is still being computed (it goes on),
        or what the computation raised."""
        future = self.submit(model, item_id, method)
        done, _ = wait([future], timeout=self.wait_s if timeout is None else max(0.0, timeout))
        if not done:
            raise ExplanationPending(f"explaining item {item_id} with {method} is still running")
        return future.result()

    def submit(self, model: str, item_id: int, method: str) -> Future:
        key = (model, item_id, method)
        with self._lock:
            future = self._inflight.get(key)
            if future is not None:
                return future
            failed = self._recent_failure(key)
            if failed is not None:
                future = Future()
                future.set_exception(failed)
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

    def _recent_failure(self, key: tuple[str, int, str]) -> BaseException | None:
        """The failure of ``key`` within FAILURE_MEMORY_S, else None (call holding ``_lock``)."""
        hit = self._failures.get(key)
        if hit is None:
            return None
        if time.monotonic() - hit[0] > FAILURE_MEMORY_S:
            del self._failures[key]
            return None
        return hit[1]

    def _remember_failure(self, key: tuple[str, int, str], exc: BaseException) -> None:
        with self._lock:
            self._failures.pop(key, None)
            self._failures[key] = (time.monotonic(), exc)
            while len(self._failures) > MAX_FAILURES:
                self._failures.popitem(last=False)

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
            with self._lock:
                self._calls.append((model, method, item_ids))
                self.call_count += 1
            try:
                # The caller reads the stored row afterwards; the worker only says "done".
                self._explain_fn(self.settings, model=model, item_ids=item_ids, methods=[method])
                for req in reqs:
                    req.future.set_result(True)
            except Exception as exc:  # noqa: BLE001 - every waiting rater must hear about the failure
                log.warning("explaining %d items of %s with %s failed", len(item_ids), model, method,
                            exc_info=True)
                for req in reqs:
                    self._remember_failure((req.model, req.item_id, req.method), exc)
                    if not req.future.done():
                        req.future.set_exception(exc)
            finally:
                with self._lock:
                    for req in reqs:
                        self._inflight.pop((req.model, req.item_id, req.method), None)
