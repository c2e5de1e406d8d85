"""A rater driven through the Gradio page's own events, as the browser sends them (for bench_serve.py).

The browser's Gradio client (sse_v3) loads the page, then for every event POSTs
``/gradio_api/queue/join?<the page's query string>`` with ``{data, event_data, fn_index, trigger_id,
session_hash}`` and reads the session's event stream ``GET /gradio_api/queue/data?session_hash=``
(``estimation``, ``process_starts``, ``process_completed``) until the event completes. This module does
exactly that over httpx, so the server runs the same handlers, through the same Gradio queue, as for a
real rater: the page's load event (sign-in from the link's query string) and the Submit button's click.
Which event is which comes from the page's config (the Submit button's ``elem_id`` and the load
trigger), and outputs are read by their components' ``elem_id``, so nothing depends on event names or
on the order of components.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx
import numpy as np

GRADIO_API = "/gradio_api"
SUBMIT_ELEM_ID = "tl-submit"
QUESTION_PREFIX = "tl-q-"
CANT_TELL_ELEM_ID = "tl-q-cant_tell"
NOT_SAVED = ("**Not saved", "**Please answer")
ASSIGNMENT = re.compile(r'data-assignment="(\d+)"')


class PageError(RuntimeError):
    """The page answered something a rater could not carry on from (``retry``: a full queue or a
    server error, which a rater's second click may get past)."""

    def __init__(self, message: str, *, retry: bool = False) -> None:
        super().__init__(message)
        self.retry = retry


@dataclass
class PageEvents:
    """The page's rater events, read once from ``GET /config`` (what the browser gets with the page)."""

    load_fn: int
    load_inputs: list[int]
    load_outputs: list[int]
    submit_fn: int
    submit_trigger: int
    submit_inputs: list[int]
    submit_outputs: list[int]
    elem_ids: dict[int, str]
    types: dict[int, str]
    # The Submit click's api name and whether it goes through Gradio's queue (False: the browser POSTs
    # it to /gradio_api/run/<api name> and reads the outputs from the response).
    submit_api: str = ""
    submit_queued: bool = True

    @classmethod
    def read(cls, client: httpx.Client) -> PageEvents:
        config = client.get("/config").raise_for_status().json()
        elem_ids = {c["id"]: (c.get("props") or {}).get("elem_id") or "" for c in config["components"]}
        types = {c["id"]: c.get("type", "") for c in config["components"]}
        by_elem = {v: k for k, v in elem_ids.items() if v}
        submit_id = by_elem[SUBMIT_ELEM_ID]
        load = submit = None
        for dep in config["dependencies"]:
            triggers = [tuple(t) for t in dep["targets"]]
            if dep.get("backend_fn") is False or dep.get("api_visibility") == "private":
                continue
            if any(event == "load" for _, event in triggers) and load is None:
                load = dep
            if (submit_id, "click") in triggers:
                submit = dep
        if load is None or submit is None:
            raise PageError("the page has no rater load event or no Submit click event")
        return cls(
            load_fn=load["id"],
            load_inputs=load["inputs"],
            load_outputs=load["outputs"],
            submit_fn=submit["id"],
            submit_trigger=submit_id,
            submit_inputs=submit["inputs"],
            submit_outputs=submit["outputs"],
            elem_ids=elem_ids,
            types=types,
            submit_api=str(submit.get("api_name") or ""),
            submit_queued=submit.get("queue") is not False,
        )


@dataclass
class Screen:
    """What the page shows after an event: an item to rate, the done page, or a notice."""

    kind: str  # "item" | "done" | "notice"
    assignment_id: int | None = None
    questions: dict[str, Any] = field(default_factory=dict)  # elem_id -> update (visible ones)
    message: str = ""
    notice: str = ""

    @property
    def not_saved(self) -> bool:
        return self.message.startswith(NOT_SAVED)


@dataclass
class EventTiming:
    total_s: float
    queue_wait_s: float  # join POST sent -> process_starts received: time in Gradio's queue
    queue_size: int = 0  # the most events Gradio said were queued while this one waited


def screen_from(page: PageEvents, outputs: list[int], data: list[Any],
                shown: dict[str, dict[str, Any]] | None = None) -> Screen:
    """Read the rater's screen from an event's output updates (by the components' elem_id).

    ``shown``: what the page shows, by elem_id ({prop: value}), kept across events as the browser
    keeps it: a property update changes the props it names, a plain value only the value (a screen
    laid out as the last one comes back as plain values: ``RaterView.lean_out``)."""
    shown = {} if shown is None else shown
    for cid, value in zip(outputs, data, strict=True):
        elem_id = page.elem_ids.get(cid, "")
        if not elem_id:
            continue
        props = shown.setdefault(elem_id, {})
        if isinstance(value, dict):  # no rater component's value is a dict: a property update
            props.update({k: v for k, v in value.items() if k != "__type__"})
        else:
            props["value"] = value

    def text(elem_id: str) -> str:
        value = shown.get(elem_id, {}).get("value")
        return value if isinstance(value, str) else ""

    notice = text("tl-notice") if shown.get("tl-notice", {}).get("visible", True) else ""
    visible = {
        k: v
        for k, v in shown.items()
        if k.startswith(QUESTION_PREFIX) and k != CANT_TELL_ELEM_ID and v.get("visible")
    }
    match = ASSIGNMENT.search(text("tl-stage"))
    if "tl-done" in notice:
        return Screen("done", message=text("tl-message"), notice=notice)
    if visible and match:
        return Screen("item", int(match.group(1)), visible, text("tl-message"), notice)
    return Screen("notice", message=text("tl-message"), notice=notice)


def answer_values(page: PageEvents, screen: Screen, rng: np.random.Generator) -> list[Any]:
    """The Submit click's input values as the browser sends them: null for the server-side state,
    a random choice for every visible question, an empty comment, "can't tell" unticked."""
    values: list[Any] = []
    for cid in page.submit_inputs:
        elem_id = page.elem_ids.get(cid, "")
        update = screen.questions.get(elem_id)
        if elem_id == CANT_TELL_ELEM_ID:
            values.append(False)
        elif update is None:  # state (kept on the server), a hidden question: what the browser sends
            values.append("" if page.types.get(cid) == "textbox" else None)
        elif update.get("choices"):
            choice = update["choices"][int(rng.integers(len(update["choices"])))]
            values.append(choice[1] if isinstance(choice, list | tuple) else choice)
        else:
            values.append("")
    return values


class PageSession:
    """One browser tab: a Gradio session hash, an HTTP client, the page's events."""

    def __init__(self, base_url: str, page: PageEvents, *, timeout_s: float,
                 cookies: dict[str, str] | None = None) -> None:
        # cookies: the browser's own before its first request (e.g. the proxy's route cookie)
        self.client = httpx.Client(base_url=base_url, timeout=timeout_s, cookies=cookies)
        self.page = page
        self.session_hash = uuid.uuid4().hex[:11]
        self.shown: dict[str, dict[str, Any]] = {}  # what the page shows (screen_from)

    def close(self) -> None:
        self.client.close()

    def open_page(self, params: dict[str, str]) -> None:
        """GET the page itself (HTML with its config), as a browser does before any event."""
        self.client.get("/", params=params).raise_for_status()

    def direct(self, api_name: str, fn_index: int, data: list[Any], *, trigger_id: int | None
               ) -> tuple[list[Any], EventTiming]:
        """Run one event that skips the queue (``queue=False``), as the browser does: one POST to
        ``/gradio_api/run/<api name>``, the outputs in its response."""
        body = {"data": data, "event_data": None, "fn_index": fn_index, "trigger_id": trigger_id,
                "session_hash": self.session_hash}
        t0 = time.perf_counter()
        answered = self.client.post(f"{GRADIO_API}/run/{api_name}", json=body)
        if answered.status_code != 200:
            raise PageError(f"run/{api_name} answered {answered.status_code}: {answered.text[:200]}",
                            retry=answered.status_code >= 500)
        return answered.json()["data"], EventTiming(time.perf_counter() - t0, 0.0)

    def event(
        self, fn_index: int, data: list[Any], *, trigger_id: int | None, params: dict[str, str] | None = None
    ) -> tuple[list[Any], EventTiming]:
        """Run one event through Gradio's queue; returns (output data, timing). Raises PageError on
        a refused join (queue full: 503) or a failed event, httpx.TransportError on a lost connection."""
        body = {
            "data": data,
            "event_data": None,
            "fn_index": fn_index,
            "trigger_id": trigger_id,
            "session_hash": self.session_hash,
        }
        t0 = time.perf_counter()
        joined = self.client.post(f"{GRADIO_API}/queue/join", params=params or {}, json=body)
        if joined.status_code != 200:
            raise PageError(
                f"queue/join answered {joined.status_code}: {joined.text[:200]}",
                retry=joined.status_code >= 500,
            )
        event_id = joined.json()["event_id"]
        started, queued = None, 0
        with self.client.stream(
            "GET", f"{GRADIO_API}/queue/data", params={"session_hash": self.session_hash}
        ) as stream:
            for line in stream.iter_lines():
                if not line.startswith("data:"):
                    continue
                message = json.loads(line[5:])
                if message.get("event_id") not in (event_id, None):
                    continue
                kind = message.get("msg")
                if kind == "estimation":
                    queued = max(queued, int(message.get("queue_size") or 0))
                elif kind == "process_starts":
                    started = time.perf_counter()
                elif kind == "process_completed":
                    if not message.get("success"):
                        raise PageError(f"event {fn_index} failed: {str(message.get('output'))[:200]}")
                    done = time.perf_counter()
                    wait = (started or done) - t0
                    return message["output"]["data"], EventTiming(done - t0, wait, queued)
                elif kind == "unexpected_error":
                    raise PageError(f"event {fn_index}: {message.get('message')}")
        raise PageError(f"event {fn_index}: the stream closed before the event completed")

    def load(self, params: dict[str, str]) -> tuple[Screen, EventTiming]:
        """The page's load event (sign-in from the link's query string; empty browser storage)."""
        inputs = [{} for _ in self.page.load_inputs]
        data, timing = self.event(self.page.load_fn, inputs, trigger_id=None, params=params)
        return screen_from(self.page, self.page.load_outputs, data, self.shown), timing

    def submit(self, values: list[Any]) -> tuple[Screen, EventTiming]:
        if self.page.submit_queued:
            data, timing = self.event(self.page.submit_fn, values, trigger_id=self.page.submit_trigger)
        else:
            data, timing = self.direct(
                self.page.submit_api, self.page.submit_fn, values, trigger_id=self.page.submit_trigger
            )
        return screen_from(self.page, self.page.submit_outputs, data, self.shown), timing
