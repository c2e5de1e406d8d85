"""Simulated raters against this deployment: invites made here, answers through the REST API.

Used by `trustlab simulate-raters` and the demo. Without ``url`` the raters talk to an in-process
app (the same FastAPI application `trustlab serve` runs), so nothing needs to be listening.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from trustlab.config import Settings
from trustlab.platform.client.driver import SimulationPlan, SimulationResult, simulate_raters
from trustlab.studies.simulate import RaterProfile, assignment_conditions, study_truth


def run_simulated_raters(
    settings: Settings,
    *,
    study: str,
    n: int,
    profile: RaterProfile | str | Path | dict[str, Any] | None = None,
    seed: int = 0,
    url: str | None = None,
) -> SimulationResult:
    """Invite ``n`` synthetic raters to ``study`` and let each answer every item it is given."""
    from trustlab.platform.accounts.invites import create_invites
    from trustlab.platform.app import create_app

    truth, classes = study_truth(settings, study)
    invites = [link.token for link in create_invites(settings, study=study, n=n, simulated=True)]
    plan = SimulationPlan(
        study=study,
        n=n,
        profile=profile,
        seed=seed,
        invites=invites,
        truth=truth,
        classes=classes,
        condition_of=assignment_conditions(settings),
    )
    if url is not None:
        return simulate_raters(url, plan)
    from fastapi.testclient import TestClient

    with TestClient(create_app(settings, ui=False)) as client:
        return simulate_raters(client, plan)
