"""Gradio's queue for the whole UI, from Settings: how many events run at once, and how many wait.

The page's events (the rater's sign-in from the link, the pending-explanation poll, sign-out, the staff
tabs) go through Gradio's queue; the rater page's share one concurrency group (``RATER_GROUP``,
``settings.ui_rater_concurrency`` at once) and the staff tabs keep ``settings.ui_concurrency``. The
rater's Submit skips the queue (``queue=False`` in ``ui.rater.page``: one POST that answers with the
next item; the queue's join, event stream and estimates cost as much as the handler), and ``DirectGate``
bounds it instead: at most ``ui_rater_concurrency`` per worker at once, the rest waiting on the event
loop. ``benchmarks/bench_serve.py --burst`` measured the defaults (docs/deployment.md, "Many raters
raters").
"""

from __future__ import annotations

import asyncio
import functools
import os
from collections.abc import Callable, Iterable
from typing import Any

import anyio
import gradio as gr

from trustlab.config import Settings

# Gradio summarises every finished event for its monitoring page (a pandas frame over up to 10,000
# past events, rebuilt after each event); trustlab has no such page. Read when the queue is made; an
# operator's own setting wins.
GRADIO_ANALYTICS_ENV = {"GRADIO_ANALYTICS_CACHE_FREQUENCY": "1000000", "GRADIO_ANALYTICS_MAX_EVENTS": "1000"}
RATER_GROUP = "rater"
LOAD_EVENT = "load"


def configure_queue(demo: gr.Blocks, settings: Settings, *, rater_components: Iterable[gr.Block]) -> None:
    """Enable the queue with ``settings``' limits; the page's load event and every event triggered by
    one of ``rater_components`` join the rater group (``ui_rater_concurrency`` 0: no limit of their
    own, only Gradio's thread pool). Call once, after the Blocks are built and before serving."""
    for name, value in GRADIO_ANALYTICS_ENV.items():
        os.environ.setdefault(name, value)
    demo.queue(default_concurrency_limit=settings.ui_concurrency, max_size=settings.ui_queue_size)
    rater_ids = {block._id for block in rater_components}
    limit = settings.ui_rater_concurrency or None
    gate = DirectGate(limit) if limit is not None else None
    for fn in demo.fns.values():
        if fn.fn is None:  # a browser-only step (js): it never reaches the queue
            continue
        if any(block_id in rater_ids or event == LOAD_EVENT for block_id, event in fn.targets):
            fn.concurrency_id = RATER_GROUP
            fn.concurrency_limit = limit
            if not fn.queue and gate is not None:  # Submit: one POST, no queue (see DirectGate)
                fn.fn = gate.wrap(fn.fn)


class DirectGate:
    """At most ``limit`` of the wrapped handlers run at once; the others wait on the event loop, in
    arrival order, holding no thread.

    For rater events that skip Gradio's queue (``queue=False``: the Submit click, one POST instead of a
    queue join and an event stream). Without a bound, a burst runs dozens of them side by side on one
    interpreter lock, each holding the database's write lock while it waits for its turn to run:
    slower for everyone (``benchmarks/bench_serve.py --burst``)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._semaphore: asyncio.Semaphore | None = None  # made in the server's event loop

    def wrap(self, handler: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(handler)
        async def gated(*args: Any, **kwargs: Any) -> Any:
            if self._semaphore is None:
                self._semaphore = asyncio.Semaphore(self.limit)
            async with self._semaphore:
                return await anyio.to_thread.run_sync(functools.partial(handler, *args, **kwargs))

        return gated
