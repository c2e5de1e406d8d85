"""Researcher and curator operations: progress (outcomes per condition only once unblinded), CSV
export, curation.

Called by the API routes and the researcher/curator tabs; every function checks the caller's role.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from trustlab.db.engine import read_session, unit_of_work
from trustlab.db.queries import datasets as dataset_queries
from trustlab.db.queries.assignments import study_progress_rows
from trustlab.platform.accounts.auth import Principal, require_role
from trustlab.platform.errors import Conflict, PlatformError, lookups_as_404
from trustlab.platform.services.rater import Services
from trustlab.studies.analysis import analyze_study
from trustlab.studies.analysis.agreement import krippendorff_alpha
from trustlab.studies.judgements import export_csv, read_judgements
from trustlab.studies.monitoring.export import judgements_export
from trustlab.studies.monitoring.outcome_blinding import (
    StillBlinded,
    analysis_look,
    session_blinding,
    study_blinding,
)
from trustlab.studies.monitoring.progress import live_outcomes, progress_counts, rater_quality

# A rater with assignments but no judgement yet.
NO_QUALITY = {"gold_seen": 0, "gold_failures": 0, "cant_tell_rate": None, "median_time_s": None}
# Rater quality that is an outcome per condition in a between-subject design (withheld while blinded).
BETWEEN_WITHHELD = ("gold_failures", "cant_tell_rate", "median_time_s")
# The most relabel proposals one queue request returns (a bigger ``limit`` is clamped to it).
MAX_QUEUE_LIMIT = 500


def study_progress(services: Services, principal: Principal, *, study: str) -> dict[str, Any]:
    """Progress, attrition and rater quality live; outcome numbers per condition once unblinded.

    Returns {study, status, judgements, blinded, blinding, raters, conditions, agreement}:
    - ``blinding``: ``studies.blinding.blinding_state`` ({blinded, reason, unblinded, looks});
      ``blinded`` repeats its flag. While blinded (the study is not closed and nobody ran
      `study unblind`), ``reason`` names how to unblind and ``conditions`` carry counts only.
    - ``raters``: [{rater, external_pid, simulated, done, assigned, released, by_condition:
      {condition: done}, gold_seen, gold_failures, cant_tell_rate, median_time_s}];
    - ``conditions``: {condition: {assigned, done, released}}, plus, when not blinded,
      {verification_accuracy, true_label_accuracy, n_verify, n_true_label} (``live_outcomes``);
    - ``agreement``: {true_label_krippendorff_alpha} pooled over conditions (compares none).
    In a between-subject design, a blinded payload also withholds each rater's gold failures, can't-tell
    rate and median time (None; listed in ``blinding["withheld"]``): with one condition per rater they
    compare conditions. ``assigned`` counts every assignment not released (done or open); ``released``
    the ones taken back from raters who timed out; accuracies and rates are fractions in [0, 1] or None
    without data.
    """
    require_role(principal, "researcher")
    ctx = services.study(name=study, fresh=True)
    with read_session(services.settings) as s:
        current = read_judgements(s, study_id=ctx.id)
        counts = progress_counts(study_progress_rows(s, study_id=ctx.id), ctx.config.conditions)
        blinding = session_blinding(s, study_id=ctx.id, name=ctx.name, status=ctx.status)
    quality = rater_quality(current)
    if blinding["blinded"] and ctx.config.design == "between":
        # Each rater sees one condition: a rater's can't-tell rate or time would be that condition's.
        blinding["withheld"] = list(BETWEEN_WITHHELD)
        quality = {r: {**q, **dict.fromkeys(BETWEEN_WITHHELD)} for r, q in quality.items()}
    raters = []
    meta = dict(zip(current["rater_id"], zip(current["external_pid"], current["simulated"], strict=True),
                    strict=True))
    for rater_id, entry in counts["per_rater"].items():
        pid, simulated = meta.get(rater_id, (None, False))
        raters.append({**entry, "assigned": entry["assigned"] + entry["done"], "external_pid": pid,
                       "simulated": bool(simulated), **quality.get(rater_id, NO_QUALITY)})
    conditions = {
        condition: {"assigned": c["assigned"] + c["done"], "done": c["done"], "released": c["released"]}
        for condition, c in counts["per_condition"].items()
    }
    if not blinding["blinded"]:
        for condition, outcome in live_outcomes(current, counts["per_condition"]).items():
            conditions[condition].update(outcome)
    answered = current[~current["cant_tell"]]
    alpha = krippendorff_alpha(answered, "answer_true_label", "nominal")["value"]
    return {
        "study": ctx.name,
        "status": ctx.status,
        "judgements": len(current),
        "blinded": blinding["blinded"],
        "blinding": blinding,
        "raters": sorted(raters, key=lambda e: e["rater"]),
        "conditions": conditions,
        "agreement": {"true_label_krippendorff_alpha": None if alpha is None else round(alpha, 4)},
    }


def judgements_csv(services: Services, principal: Principal, *, study: str) -> str:
    """Every judgement of the study (superseded ones too, flagged) as CSV text, in the export's columns
    (``studies.judgements.EXPORT_COLUMNS``). Conflict while the study is blinded (``studies.blinding``)."""
    require_role(principal, "researcher")
    record_judgements_look(services, principal, study=study, reason="judgements CSV from the API")
    return _judgements_text(services, study)


def record_judgements_look(services: Services, principal: Principal, *, study: str, reason: str) -> None:
    """Record that ``principal`` takes the raw judgements of a running, unblinded study (a look at its
    outcomes; nothing is recorded for a closed study). Conflict while the study is blinded."""
    require_role(principal, "researcher")
    study = services.study(name=study, fresh=True).name  # an unknown study is a 404, not a 500
    try:  # raw judgements give every outcome away: refused while blinded, a recorded look while running
        analysis_look(services.settings, study, unblind=False, actor=principal.username, reason=reason,
                      source="export")
    except StillBlinded as exc:
        raise Conflict(f"the judgements export is withheld: {exc}") from exc


def judgements_csv_to_hand_over(services: Services, principal: Principal, *, study: str) -> str:
    """``judgements_csv`` prepared ahead of a download button's click, before anyone sees it: Conflict
    while the study is blinded; the caller records the look when the file is taken
    (``record_judgements_look``)."""
    require_role(principal, "researcher")
    study = services.study(name=study, fresh=True).name
    if study_blinding(services.settings, study)["blinded"]:
        raise Conflict(f"the judgements export is withheld: study {study!r} is blinded")
    return _judgements_text(services, study)


def _judgements_text(services: Services, study: str) -> str:
    ctx = services.study(name=study, fresh=True)
    with read_session(services.settings) as s:
        _, table = judgements_export(s, study_id=ctx.id, model=ctx.model_name, include_superseded=True)
    return export_csv(table)


def study_analysis(services: Services, principal: Principal, *, study: str, reason: str) -> dict[str, Any]:
    """The study's analysis as `trustlab analyze` makes it: {summary, report_html}.

    Follows ``studies.blinding``: Conflict while the study is blinded; a running, unblinded study's
    analysis is a look recorded with ``principal``'s username and ``reason``; a closed study's is not.
    """
    require_role(principal, "researcher")
    study = services.study(name=study, fresh=True).name
    try:
        analysis_look(services.settings, study, unblind=False, actor=principal.username, reason=reason,
                      source="analyze")
    except StillBlinded as exc:  # worded for the tab: the CLI's flags mean nothing in a browser
        raise Conflict(f"the analysis is withheld: study {study!r} is blinded") from exc
    with tempfile.TemporaryDirectory(prefix="trustlab-analysis-") as folder:
        summary = analyze_study(services.settings, study, folder)
        report_html = (Path(folder) / "report.html").read_text(encoding="utf-8")
    return {"summary": summary, "report_html": report_html}


# ---- curation (the relabel engine's functions, behind the curator role) ---------------------------
def curator_queue(services: Services, principal: Principal, *, dataset: str, limit: int = 50) -> list[dict]:
    """Open relabel proposals of a dataset, best first (see relabel.curation.review_queue); ``limit``
    is clamped to 1..MAX_QUEUE_LIMIT."""
    require_role(principal, "curator")
    limit = min(max(int(limit), 1), MAX_QUEUE_LIMIT)
    from trustlab.db.queries.datasets import get_dataset
    from trustlab.studies.relabel.curation import review_queue

    with lookups_as_404(), unit_of_work(services.settings) as s:
        dataset_row = get_dataset(s, name=dataset)
        return review_queue(s, dataset_id=dataset_row.id, limit=limit)


def curator_decide(
    services: Services, principal: Principal, *, proposal_id: int, action: str, label: str | None = None
) -> dict[str, Any]:
    """Accept / reject / relabel one proposal as the signed-in curator; returns the revision summary."""
    require_role(principal, "curator")
    from trustlab.studies.relabel.curation import CurationConflict, CurationError, decide

    with lookups_as_404(), unit_of_work(services.settings) as s:
        try:
            revision = decide(
                s, proposal_id=proposal_id, action=action, label=label, actor=principal.username
            )
        except CurationConflict as exc:  # decided by someone else first: 409 naming them
            raise Conflict(str(exc)) from exc
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
    """Undo the curator's newest decision on an item, a reject as well as a label change
    (``relabel.curation.undo_decision``). Returns {item_id, undone ("reject" or "label change"),
    proposal_id (open again), revision_id (None for a reject), old_label, new_label}."""
    require_role(principal, "curator")
    from trustlab.studies.relabel.curation import CurationConflict, CurationError, undo_decision

    with lookups_as_404(), unit_of_work(services.settings) as s:
        try:
            done = undo_decision(s, item_id=item_id, actor=principal.username)
        except CurationConflict as exc:  # the newest decision is someone else's: 409 naming them
            raise Conflict(str(exc)) from exc
        except CurationError as exc:
            raise PlatformError(str(exc)) from exc
        revision = done.revision
        return {
            "item_id": item_id,
            "undone": done.kind,
            "proposal_id": done.proposal_id,
            "revision_id": None if revision is None else revision.id,
            "old_label": done.label if revision is None else revision.old_label,
            "new_label": done.label,
        }


def curator_open_count(services: Services, principal: Principal, *, dataset: str) -> int:
    """How many relabel proposals of the dataset are open (all of them, not only a queue's page)."""
    require_role(principal, "curator")
    from trustlab.db.queries.datasets import get_dataset
    from trustlab.studies.relabel.curation import open_proposal_count

    with lookups_as_404(), read_session(services.settings) as s:
        dataset_id = get_dataset(s, name=dataset).id
        return open_proposal_count(s, dataset_id=dataset_id)


def dataset_names(services: Services) -> list[str]:
    with unit_of_work(services.settings) as s:
        return dataset_queries.dataset_names(s)
