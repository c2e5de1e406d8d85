"""The rater simulator's HTTP driver: synthetic raters that take part in a study through the REST API.

It accepts invites and loops ``next`` / ``submit`` until every rater sees the completion screen; what
each rater answers comes from the answer model in ``trustlab.studies.simulate``. The driver needs the
items' ground truth (``study_truth``) because the API never sends a rater the true label.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from trustlab.job_progress import progress
from trustlab.platform.routes import ACCEPT_INVITE_PATH, JUDGEMENTS_PATH, next_item_path
from trustlab.studies.simulate import (
    ItemTruth,
    RaterProfile,
    SimulatedRater,
    SimulationError,
    load_profile,
)

# Stop a rater who is served more items than this (a loop guard against a misbehaving server).
MAX_STEPS_PER_RATER = 10_000
# How long a simulated rater waits, in all, for an item's explanations to be computed (202 replies).
MAX_PENDING_WAIT_S = 600.0


@dataclass
class SimulationResult:
    raters: int = 0
    judgements: int = 0
    careless: int = 0
    completion_codes: list[str] = field(default_factory=list)


def _client(base_url_or_client: str | httpx.Client) -> tuple[httpx.Client, bool]:
    # Anything with get/post (httpx.Client, starlette's TestClient over the in-process app) is used as is.
    if not isinstance(base_url_or_client, str):
        return base_url_or_client, False
    return httpx.Client(base_url=base_url_or_client.rstrip("/"), timeout=30.0), True


def _check(response: httpx.Response, what: str) -> None:
    if response.status_code >= 400:
        raise SimulationError(f"{what} failed with HTTP {response.status_code}: {response.text[:300]}")


def simulate_raters(
    base_url_or_client: str | httpx.Client,
    *,
    study: str,
    n: int,
    profile: RaterProfile | str | Path | Mapping[str, Any] | None = None,
    seed: int = 0,
    invites: Sequence[str],
    truth: Mapping[int, ItemTruth],
    classes: Sequence[str],
    condition_of: Callable[[int], str] | None = None,
    show_progress: bool = True,
) -> SimulationResult:
    """Run ``n`` synthetic raters through the REST API, interleaved in seeded random order.

    Parameters
    ----------
    base_url_or_client: ``http://host:port`` of a running server, or an httpx.Client (e.g. over the
        ASGI app in tests).
    invites: at least ``n`` invite tokens of the study (``trustlab study invite`` makes them).
    truth, classes: from ``study_truth`` (the API never tells raters the true label).
    condition_of: assignment id -> condition (``assignment_conditions(settings)``); a blinded study
        hides the condition from raters, but the answer model needs it to apply the profile's boosts.
        None: use the payload's condition (unblinded studies) or the explanations' names.

    Returns how many raters finished, judgements were acknowledged, and the completion codes.
    """
    if len(invites) < n:
        raise SimulationError(f"simulate_raters needs {n} invites but got {len(invites)}: make more invites")
    prof = load_profile(profile)
    client, owned = _client(base_url_or_client)
    order_rng = np.random.default_rng([seed, 999])
    result = SimulationResult()
    try:
        active: dict[int, tuple[SimulatedRater, dict[str, str]]] = {}
        for index, invite in enumerate(invites[:n]):
            response = client.post(ACCEPT_INVITE_PATH, json={"invite": invite})
            _check(response, "accepting an invite")
            rater = SimulatedRater.make(prof, seed=seed, index=index)
            result.careless += rater.careless
            active[index] = (rater, {"Authorization": f"Bearer {response.json()['token']}"})
        result.raters = len(active)
        steps = 0
        bar = progress(desc=f"simulating {n} raters", unit="judgement", enabled=show_progress)
        while active:
            for index in order_rng.permutation(sorted(active)):
                rater, headers = active[int(index)]
                response = _next_ready(client, next_item_path(study), headers)
                if response.status_code == 204:
                    result.completion_codes.append(response.headers.get("X-Completion-Code", ""))
                    del active[int(index)]
                    continue
                _check(response, "fetching the next item")
                payload = response.json()
                item_id = int(payload["item_id"])
                if item_id not in truth:
                    raise SimulationError(
                        f"item {item_id} has no ground truth: pass study_truth() of {study!r}"
                    )
                condition = (
                    condition_of(int(payload["assignment_id"]))
                    if condition_of is not None
                    else payload.get("condition") or _condition_from(payload)
                )
                answers, elapsed = rater.answer(
                    item_id=item_id,
                    condition=condition,
                    truth=truth[item_id],
                    questions=payload["questions"],
                    classes=classes,
                )
                response = client.post(
                    JUDGEMENTS_PATH,
                    headers=headers,
                    json={
                        "assignment_id": payload["assignment_id"],
                        "answers": answers,
                        "idempotency_key": f"sim-{uuid.uuid4().hex}",
                        "client_elapsed_ms": elapsed,
                    },
                )
                _check(response, "submitting a judgement")
                result.judgements += 1
                steps += 1
                bar.update(1)
                if steps > MAX_STEPS_PER_RATER * n:
                    raise SimulationError(
                        "the server keeps serving items: stopped (is the study's plan finite?)"
                    )
        bar.close()
    finally:
        if owned:
            client.close()
    return result


def _next_ready(client: httpx.Client, path: str, headers: dict[str, str]) -> httpx.Response:
    """GET the next item, asking again while the server answers 202 (an explanation is still being
    computed; a rater answers only once every explanation is shown)."""
    waited = 0.0
    response = client.get(path, headers=headers)
    while response.status_code == 202:
        pause = float(response.headers.get("Retry-After") or 1)
        waited += pause
        if waited > MAX_PENDING_WAIT_S:
            raise SimulationError(f"explanations still pending after {MAX_PENDING_WAIT_S:.0f} s: {path}")
        time.sleep(pause)
        response = client.get(path, headers=headers)
    return response


def _condition_from(payload: Mapping[str, Any]) -> str:
    """A blinded study hides the condition's name; the number of explanations is all a rater sees, so
    the answer model treats a blinded condition by its methods only when they are named."""
    methods = [e.get("method", "") for e in payload.get("explanations", [])]
    if not methods:
        return "none"
    return "+".join(methods)
