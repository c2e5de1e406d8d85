"""Researcher and curator operations: progress, live accuracy and agreement, CSV export, curation.

Called by the API routes and the researcher/curator tabs; every function checks the caller's role.
"""

from __future__ import annotations

import csv
import io
import math
from collections import defaultdict
from typing import Any

import numpy as np

from trustlab.db.engine import session_for
from trustlab.db.queries import datasets as dataset_queries
from trustlab.db.queries.assignments import assignment_counts
from trustlab.db.queries.errors import NotFound
from trustlab.db.queries.judgements import JudgementRow, study_judgements
from trustlab.db.queries.studies import get_study_by_id
from trustlab.platform.auth import Principal, require_role
from trustlab.platform.errors import NotFoundError, PlatformError
from trustlab.platform.services import Services

ANSWER_KEYS = (
    "model_correct",
    "true_label",
    "simulated_label",
    "trust",
    "helpfulness",
    "confidence",
    "cant_tell",
    "comment",
)
CSV_COLUMNS = [
    "judgement_id",
    "assignment_id",
    "rater",
    "external_pid",
    "simulated",
    "item_id",
    "item_path",
    "condition",
    "position",
    "is_gold",
    "true_label",
    "predicted_label",
    "confidence",
    "model_correct",
    *[f"answer_{key}" for key in ANSWER_KEYS],
    "response_ms",
    "client_elapsed_ms",
    "supersedes_id",
    "superseded",
    "created_at",
]


def _rows(services: Services, study: str) -> tuple[Any, list[JudgementRow]]:
    ctx = services.study(name=study, fresh=True)
    with session_for(services.settings) as s:
        try:
            row = get_study_by_id(s, study_id=ctx.id)
        except NotFound as exc:
            raise NotFoundError(str(exc)) from exc
        return ctx, study_judgements(s, study=row)


def current_judgements(rows: list[JudgementRow]) -> list[JudgementRow]:
    """The latest answer per assignment (superseded rows dropped)."""
    return [r for r in rows if not r.superseded]


def _model_correct(row: JudgementRow) -> bool | None:
    if row.model_correct is not None:
        return row.model_correct
    if row.predicted_label is None:
        return None
    return row.predicted_label == row.true_label


def krippendorff_nominal(rows: list[JudgementRow], key: str = "true_label") -> float | None:
    """Krippendorff's alpha (nominal) of one categorical answer over raters x items; None when
    there is too little data (no item with two ratings, or a single value overall)."""
    import krippendorff

    ratings = [
        (r.rater_id, r.item_id, r.answers.get(key))
        for r in rows
        if r.answers.get(key) is not None and not r.answers.get("cant_tell")
    ]
    per_item: dict[int, int] = defaultdict(int)
    for _, item_id, _ in ratings:
        per_item[item_id] += 1
    values = sorted({str(v) for _, _, v in ratings})
    if len(values) < 2 or not any(n >= 2 for n in per_item.values()):
        return None
    raters = sorted({r for r, _, _ in ratings})
    items = sorted(per_item)
    matrix = np.full((len(raters), len(items)), np.nan)
    r_index = {r: i for i, r in enumerate(raters)}
    i_index = {i: j for j, i in enumerate(items)}
    v_index = {v: k for k, v in enumerate(values)}
    for rater_id, item_id, value in ratings:
        matrix[r_index[rater_id], i_index[item_id]] = v_index[str(value)]
    alpha = float(krippendorff.alpha(reliability_data=matrix, level_of_measurement="nominal"))
    return None if math.isnan(alpha) else round(alpha, 4)


def study_progress(services: Services, principal: Principal, *, study: str) -> dict[str, Any]:
    """Progress per rater and condition, live accuracy per condition, and agreement.

    Returns {study, status, judgements, raters: [{rater, external_pid, simulated, done, assigned,
    released, by_condition: {condition: done}}], conditions: {condition: {assigned, done,
    verification_accuracy, true_label_accuracy, n_verify, n_true_label}}, agreement:
    {true_label_krippendorff_alpha}}. Accuracies are fractions in [0, 1] or None without data.
    """
    require_role(principal, "researcher")
    ctx, rows = _rows(services, study)
    with session_for(services.settings) as s:
        counts = assignment_counts(s, study_id=ctx.id)
    raters: dict[int, dict[str, Any]] = {}
    conditions: dict[str, dict[str, Any]] = {c: {"assigned": 0, "done": 0} for c in ctx.config.conditions}
    for rater_id, handle, condition, status, count in counts:
        entry = raters.setdefault(
            rater_id, {"rater": handle, "done": 0, "assigned": 0, "released": 0, "by_condition": {}}
        )
        cond = conditions.setdefault(condition, {"assigned": 0, "done": 0})
        if status == "released":
            entry["released"] += count
            continue
        entry["assigned"] += count
        cond["assigned"] += count
        if status == "done":
            entry["done"] += count
            cond["done"] += count
            entry["by_condition"][condition] = entry["by_condition"].get(condition, 0) + count
    current = current_judgements(rows)
    meta = {r.rater_id: (r.external_pid, r.simulated) for r in rows}
    for rater_id, entry in raters.items():
        entry["external_pid"], entry["simulated"] = meta.get(rater_id, (None, False))
    for condition, cond in conditions.items():
        mine = [r for r in current if r.condition == condition and not r.answers.get("cant_tell")]
        verify = [
            (r.answers["model_correct"], _model_correct(r))
            for r in mine
            if "model_correct" in r.answers and _model_correct(r) is not None
        ]
        labels = [(r.answers["true_label"], r.true_label) for r in mine if "true_label" in r.answers]
        cond["n_verify"], cond["n_true_label"] = len(verify), len(labels)
        cond["verification_accuracy"] = (
            round(sum(a == b for a, b in verify) / len(verify), 4) if verify else None
        )
        cond["true_label_accuracy"] = (
            round(sum(a == b for a, b in labels) / len(labels), 4) if labels else None
        )
    return {
        "study": ctx.name,
        "status": ctx.status,
        "judgements": len(current),
        "raters": sorted(raters.values(), key=lambda e: e["rater"]),
        "conditions": conditions,
        "agreement": {"true_label_krippendorff_alpha": krippendorff_nominal(current)},
    }


def judgements_csv(services: Services, principal: Principal, *, study: str) -> str:
    """Every judgement of the study (superseded ones too, flagged) as CSV text, columns CSV_COLUMNS."""
    require_role(principal, "researcher")
    _, rows = _rows(services, study)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS)
    writer.writeheader()
    for r in rows:
        record = {
            "judgement_id": r.judgement_id,
            "assignment_id": r.assignment_id,
            "rater": r.rater_handle,
            "external_pid": r.external_pid or "",
            "simulated": int(r.simulated),
            "item_id": r.item_id,
            "item_path": r.item_path,
            "condition": r.condition,
            "position": r.position,
            "is_gold": int(r.is_gold),
            "true_label": r.true_label,
            "predicted_label": r.predicted_label or "",
            "confidence": "" if r.confidence is None else r.confidence,
            "model_correct": "" if _model_correct(r) is None else int(bool(_model_correct(r))),
            "response_ms": "" if r.response_ms is None else round(r.response_ms, 1),
            "client_elapsed_ms": "" if r.client_elapsed_ms is None else r.client_elapsed_ms,
            "supersedes_id": r.supersedes_id or "",
            "superseded": int(r.superseded),
            "created_at": r.created_at.isoformat(),
        }
        for key in ANSWER_KEYS:
            value = r.answers.get(key)
            record[f"answer_{key}"] = (
                "" if value is None else (int(value) if isinstance(value, bool) else value)
            )
        writer.writerow(record)
    return buffer.getvalue()


# ---- curation (the relabel engine's functions, behind the curator role) ---------------------------
def curator_queue(services: Services, principal: Principal, *, dataset: str, limit: int = 50) -> list[dict]:
    """Open relabel proposals of a dataset, best first (see relabel.curation.review_queue)."""
    require_role(principal, "curator")
    from trustlab.db.queries.datasets import get_dataset
    from trustlab.studies.relabel.curation import review_queue

    with session_for(services.settings) as s:
        try:
            dataset_row = get_dataset(s, name=dataset)
        except NotFound as exc:
            raise NotFoundError(str(exc)) from exc
        return review_queue(s, dataset_id=dataset_row.id, limit=limit)


def curator_decide(
    services: Services, principal: Principal, *, proposal_id: int, action: str, label: str | None = None
) -> dict[str, Any]:
    """Accept / reject / relabel one proposal as the signed-in curator; returns the revision summary."""
    require_role(principal, "curator")
    from trustlab.studies.relabel.curation import CurationError, decide

    with session_for(services.settings) as s:
        try:
            revision = decide(s, proposal_id=proposal_id, action=action, label=label, actor=principal.handle)
        except NotFound as exc:
            raise NotFoundError(str(exc)) from exc
        except CurationError as exc:
            raise PlatformError(str(exc)) from exc
        if revision is None:
            return {"proposal_id": proposal_id, "action": action, "revision_id": None}
        return {
            "proposal_id": proposal_id,
            "action": action,
            "revision_id": revision.id,
            "old_label": revision.old_label,
            "new_label": revision.new_label,
        }


def curator_undo(services: Services, principal: Principal, *, item_id: int) -> dict[str, Any]:
    require_role(principal, "curator")
    from trustlab.studies.relabel.curation import CurationError, undo

    with session_for(services.settings) as s:
        try:
            revision = undo(s, item_id=item_id, actor=principal.handle)
        except NotFound as exc:
            raise NotFoundError(str(exc)) from exc
        except CurationError as exc:
            raise PlatformError(str(exc)) from exc
        return {
            "item_id": item_id,
            "revision_id": revision.id,
            "old_label": revision.old_label,
            "new_label": revision.new_label,
        }


def dataset_names(services: Services) -> list[str]:
    with session_for(services.settings) as s:
        return dataset_queries.dataset_names(s)
