"""Whether a study's primary analysis was pre-registered, and the record that says so.

A primary analysis counts as pre-registered only when (1) the researcher wrote the study config's
``analysis:`` block (``Study.analysis_declared``, set at ``study create``: the stored config holds the
block's defaults too, so it cannot tell), (2) the block was recorded at the study's first ``study open``
(``StudyPreregistration``: its SHA-256, who opened the study and when) before any judgement existed, and
(3) the block the analysis uses still has that SHA-256. Anything else is reported as not pre-registered,
with the reason.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

from trustlab.db.queries.judgements import count_judgements
from trustlab.db.queries.studies import add_preregistration, get_preregistration
from trustlab.db.schema import Study, StudyPreregistration
from trustlab.studies.config.study import StudyConfig, load_study_config
from trustlab.wording import counted

DEFAULT_OUTCOME = "not pre-registered: default primary outcome (the study config has no analysis: block)"


def analysis_block(config: StudyConfig) -> dict[str, Any]:
    """The ``analysis:`` block as the analysis uses it (defaults filled in), JSON-ready."""
    return config.analysis.model_dump(mode="json")


def analysis_sha256(config: StudyConfig) -> str:
    """SHA-256 of the canonical JSON of the ``analysis:`` block (sorted keys, no spaces)."""
    canonical = json.dumps(analysis_block(config), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def record_at_open(session: Any, study: Study, *, actor: str, now: datetime) -> StudyPreregistration:
    """The study's record of its analysis, made at its first opening (an existing one is kept)."""
    existing = get_preregistration(session, study_id=study.id)
    if existing is not None:
        return existing
    config = load_study_config(study.config)
    record = StudyPreregistration(
        study_id=study.id,
        analysis=analysis_block(config),
        analysis_sha256=analysis_sha256(config),
        declared=bool(study.analysis_declared),
        actor=actor,
        judgements_before=count_judgements(session, study_id=study.id),
        created_at=now,
    )
    return add_preregistration(session, record=record)


def preregistration_status(record: StudyPreregistration | None, config: StudyConfig) -> dict[str, Any]:
    """{preregistered (bool), statement (one sentence for the report), and, when recorded:
    analysis_sha256, recorded_at (ISO 8601), recorded_by, judgements_before}."""
    if record is None:
        return {"preregistered": False, "statement": (
            "not pre-registered: no record of the analysis at `study open` "
            "(the study was opened before trustlab recorded one)"
        )}
    facts = {
        "analysis_sha256": record.analysis_sha256,
        "recorded_at": record.created_at.isoformat(),
        "recorded_by": record.actor,
        "judgements_before": record.judgements_before,
    }
    if not record.declared:
        statement = DEFAULT_OUTCOME
    elif record.judgements_before:
        statement = ("not pre-registered: the analysis: block was recorded after "
                     f"{counted(record.judgements_before, 'judgement')} existed")
    elif record.analysis_sha256 != analysis_sha256(config):
        statement = ("not pre-registered: the analysis: block differs from the one recorded at `study open` "
                     f"(SHA-256 {record.analysis_sha256[:12]}…)")
    else:
        when = record.created_at.strftime("%Y-%m-%d %H:%M UTC")
        return {**facts, "preregistered": True, "statement": (
            f"pre-registered: the study config's analysis: block (SHA-256 {record.analysis_sha256[:12]}…), "
            f"recorded at `study open` on {when} by {record.actor}, before the first judgement"
        )}
    return {**facts, "preregistered": False, "statement": statement}


def study_preregistration(session: Any, study: Study, config: StudyConfig) -> dict[str, Any]:
    """``preregistration_status`` of a stored study."""
    return preregistration_status(get_preregistration(session, study_id=study.id), config)
