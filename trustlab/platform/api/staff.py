"""The staff routes under /api/v1: research (the studies, a study's progress, its judgements as
CSV; researchers) and curation (a dataset's relabel queue and decisions; curators). Thin: the role
checks and the work are in ``services.staff``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, Field

from trustlab.platform.accounts import auth
from trustlab.platform.api.deps import ERROR_RESPONSES, IdPath, PrincipalDep, ServicesDep
from trustlab.platform.routes import API_PREFIX
from trustlab.platform.services import staff as staff_services
from trustlab.platform.services.staff import MAX_QUEUE_LIMIT


class DecisionIn(BaseModel):
    action: str = Field(description="accept | reject | other")
    label: str | None = None


router = APIRouter(prefix=API_PREFIX, responses=ERROR_RESPONSES)


@router.get("/studies", tags=["research"])
def list_studies(principal: PrincipalDep, services: ServicesDep) -> list[dict[str, Any]]:
    auth.require_role(principal, "researcher", "curator")
    return services.list_studies()


@router.get("/studies/{study}/progress", tags=["research"])
def study_progress(study: str, principal: PrincipalDep, services: ServicesDep) -> dict[str, Any]:
    """Progress per rater and condition, live accuracy and agreement (researchers)."""
    return staff_services.study_progress(services, principal, study=study)


@router.get(
    "/studies/{study}/judgements.csv",
    tags=["research"],
    response_class=Response,
    responses={200: {"content": {"text/csv": {"schema": {"type": "string"}}}, "description": "the CSV"}},
)
def judgements_csv(study: str, principal: PrincipalDep, services: ServicesDep) -> Response:
    """Every judgement as CSV (superseded answers flagged) (researchers)."""
    text = staff_services.judgements_csv(services, principal, study=study)
    return Response(
        text,
        media_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{_safe_filename(study)}-judgements.csv"'},
    )


@router.get("/datasets/{dataset}/relabel-queue", tags=["curation"])
def relabel_queue(
    dataset: str,
    principal: PrincipalDep,
    services: ServicesDep,
    limit: Annotated[int, Query(ge=1, le=MAX_QUEUE_LIMIT, description="most proposals to return")] = 50,
) -> list[dict[str, Any]]:
    """Open relabel proposals of a dataset, best first (curators)."""
    return staff_services.curator_queue(services, principal, dataset=dataset, limit=limit)


@router.post("/relabel/{proposal_id}/decision", tags=["curation"])
def relabel_decision(
    proposal_id: IdPath, body: DecisionIn, principal: PrincipalDep, services: ServicesDep
) -> dict[str, Any]:
    return staff_services.curator_decide(
        services, principal, proposal_id=proposal_id, action=body.action, label=body.label
    )


def _safe_filename(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)[:100] or "study"
