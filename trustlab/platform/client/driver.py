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


@dataclass(frozen=True)
class SimulationPlan:
    """Who the simulated raters are and what they need to answer.

    invites: at least ``n`` invite tokens of the study (``trustlab study invite`` makes them).
    truth, classes: from ``study_truth`` (the API never tells raters the true label).
    condition_of: assignment id -> condition (``assignment_conditions(settings)``); a study with
        condition hiding keeps the condition from raters, but the answer model needs it to apply the
        profile's boosts. None: use the payload's condition or the explanations' names.
    """

    study: str
    n: int
    invites: Sequence[str]
    truth: Mapping[int, ItemTruth]
    classes: Sequence[str]
    profile: RaterProfile | str | Path | Mapping[str, Any] | None = None
    seed: int = 0
    condition_of: Callable[[int], str] | None = None
    show_progress: bool = True


# A signed-in simulated rater: its answer model and the bearer header it sends.
Active = dict[int, tuple[SimulatedRater, dict[str, str]]]


def simulate_raters(base_url_or_client: str | httpx.Client, plan: SimulationPlan) -> SimulationResult:
    """Run ``plan.n`` synthetic raters through the REST API, interleaved in seeded random order.

    ``base_url_or_client``: ``http://host:port`` of a running server, or an httpx.Client (e.g. over
    the ASGI app in tests). Returns how many raters finished, judgements were acknowledged, and the
    completion codes.
    """
    if len(plan.invites) < plan.n:
        raise SimulationError(
            f"simulate_raters needs {plan.n} invites but got {len(plan.invites)}: make more invites"
        )
    client, owned = _client(base_url_or_client)
    result = SimulationResult()
    try:
        active = _accept_invites(client, plan, result)
        _rate_until_finished(client, plan, active, result)
    finally:
        if owned:
            client.close()
    return result


def _accept_invites(client: httpx.Client, plan: SimulationPlan, result: SimulationResult) -> Active:
    """Sign each rater in with its invite; counts them (and the careless ones) in ``result``."""
    profile = load_profile(plan.profile)
    active: Active = {}
    for index, invite in enumerate(plan.invites[: plan.n]):
        response = client.post(ACCEPT_INVITE_PATH, json={"invite": invite})
        _check(response, "accepting an invite")
        rater = SimulatedRater.make(profile, seed=plan.seed, index=index)
        result.careless += rater.careless
        active[index] = (rater, {"Authorization": f"Bearer {response.json()['token']}"})
    result.raters = len(active)
    return active


def _rate_until_finished(
    client: httpx.Client, plan: SimulationPlan, active: Active, result: SimulationResult
) -> None:
    """Rounds in seeded random order, one item per rater each, until every rater has finished."""
    order_rng = np.random.default_rng([plan.seed, 999])
    steps = 0
    bar = progress(desc=f"simulating {plan.n} raters", unit="judgement", enabled=plan.show_progress)
    while active:
        for index in order_rng.permutation(sorted(active)):
            rater, headers = active[int(index)]
            response = _next_ready(client, next_item_path(plan.study), headers)
            if response.status_code == 204:
                result.completion_codes.append(response.headers.get("X-Completion-Code", ""))
                del active[int(index)]
                continue
            _check(response, "fetching the next item")
            _answer(client, plan, rater, headers, response.json())
            result.judgements += 1
            steps += 1
            bar.update(1)
            if steps > MAX_STEPS_PER_RATER * plan.n:
                raise SimulationError("the server keeps serving items: stopped (is the study's plan finite?)")
    bar.close()


def _answer(
    client: httpx.Client,
    plan: SimulationPlan,
    rater: SimulatedRater,
    headers: dict[str, str],
    payload: Mapping[str, Any],
) -> None:
    """The rater's answer to the item in ``payload``, from its answer model, sent as a judgement."""
    item_id = int(payload["item_id"])
    if item_id not in plan.truth:
        raise SimulationError(f"item {item_id} has no ground truth: pass study_truth() of {plan.study!r}")
    condition = (
        plan.condition_of(int(payload["assignment_id"]))
        if plan.condition_of is not None
        else payload.get("condition") or _condition_from(payload)
    )
    answers, elapsed = rater.answer(
        item_id=item_id,
        condition=condition,
        truth=plan.truth[item_id],
        questions=payload["questions"],
        classes=plan.classes,
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
    """A study with condition hiding keeps the condition's name from raters; the explanations are all
    a rater sees, so the answer model knows the condition by its methods only when they are named."""
    methods = [e.get("method", "") for e in payload.get("explanations", [])]
    if not methods:
        return "none"
    return "+".join(methods)
