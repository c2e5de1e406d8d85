"""A link study's participants for the researcher: the table a researcher uploads to
approve and pay (`trustlab study participants`), attention and gold failures per rater (the
researcher tab), the study link and codes (`trustlab study link`), and marking participants who
returned the study on their platform.

One row per participant: ``pid``, the platform's parameters (Prolific's STUDY_ID, SESSION_ID; MTurk's
assignmentId, hitId, turkSubmitTo), ``status``, ``approve`` (1 for a completed participant), start and
finish times, ``minutes``, items done, attention and gold failures, the completion code they were shown.
"""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import pandas as pd

from trustlab.clock import utc_now
from trustlab.config import Settings
from trustlab.csv_safety import write_csv
from trustlab.db.engine import read_session, unit_of_work
from trustlab.db.queries.participants import participant_by_pid, participant_rows
from trustlab.db.queries.studies import get_study
from trustlab.studies.config.recruitment import PLATFORM_PARAMS
from trustlab.studies.config.study import StudyConfig, load_study_config
from trustlab.studies.recruitment import rules

BASE_COLUMNS: list[str] = [
    "pid",
    "platform",
    "status",
    "status_reason",
    "approve",
    "started_at",
    "finished_at",
    "minutes",
    "done",
    "assigned",
    "attention_failures",
    "gold_failures",
    "completion_code",
    "consent_at",
    "instructions_opened",
    "rater",
]
# Columns of `--format mturk`: what MTurk's "Review results -> Upload CSV" reads (x approves).
MTURK_COLUMNS: list[str] = ["AssignmentId", "WorkerId", "HITId", "Approve", "Reject"]
FAILURE_COLUMNS: list[str] = ["pid", "rater", "status", "done", "attention_failures", "gold_failures"]


class ParticipantsError(ValueError):
    """The study is not a link study, or a named participant does not exist."""


def participant_columns(platform: str) -> list[str]:
    """The participants table's columns: the base ones, then the platform's parameters, then all of
    the stored parameters as ``params_json``."""
    return [*BASE_COLUMNS, *PLATFORM_PARAMS[platform][1:], "params_json"]


def _link_config(study) -> StudyConfig:
    config = load_study_config(study.config)
    if not rules.is_link_study(config):
        raise ParticipantsError(
            f"study {study.name!r} recruits by invite (recruitment.mode: invite): it has no participants; "
            "see `trustlab study status` for its raters"
        )
    return config


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.replace(tzinfo=value.tzinfo or UTC).isoformat()


def participants_frame(settings: Settings, name: str) -> pd.DataFrame:
    """One row per participant of a link study, columns ``participant_columns(platform)``."""
    with read_session(settings) as s:
        study = get_study(s, name=name)
        config = _link_config(study)
        rows = participant_rows(s, study_id=study.id)
    records = []
    for row in rows:
        params = row["params"] or {}
        records.append(
            {
                **{k: row.get(k) for k in BASE_COLUMNS if k in row},
                "approve": int(row["status"] == "completed"),
                "started_at": _iso(row["started_at"]),
                "finished_at": _iso(row["finished_at"]),
                "consent_at": _iso(row["consent_at"]),
                "minutes": rules.minutes_between(row["started_at"], row["finished_at"]),
                **{p: params.get(p) for p in PLATFORM_PARAMS[config.recruitment.platform][1:]},
                "params_json": json.dumps(params, sort_keys=True),
            }
        )
    frame = pd.DataFrame(records, columns=participant_columns(config.recruitment.platform))
    return frame.astype(object).where(frame.notna(), None)  # missing values are None, not NaN


def mturk_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """The participants table as MTurk's approval upload: x in Approve for completed participants, a
    reason in Reject for screened-out ones (failed instructional checks), nothing for the rest."""
    out = pd.DataFrame(
        {
            "AssignmentId": frame.get("assignmentId"),
            "WorkerId": frame["pid"],
            "HITId": frame.get("hitId"),
            "Approve": ["x" if s == "completed" else "" for s in frame["status"]],
            "Reject": [
                "failed the study's attention checks" if s == "screened_out" else "" for s in frame["status"]
            ],
        }
    )
    return out.reindex(columns=MTURK_COLUMNS)


def participants_csv(frame: pd.DataFrame) -> str:
    """A participants table as CSV text (cells escaped against formula injection, empty for None)."""
    buffer = io.StringIO()
    write_csv(frame.astype(object).where(frame.notna(), ""), buffer, index=False)
    return buffer.getvalue()


def failures_frame(settings: Settings, name: str) -> pd.DataFrame:
    """Attention and gold failures per participant, live (the researcher tab), columns
    ``FAILURE_COLUMNS``; empty for an invite-mode study."""
    with read_session(settings) as s:
        study = get_study(s, name=name)
        if not rules.is_link_study(load_study_config(study.config)):
            return pd.DataFrame(columns=FAILURE_COLUMNS)
        rows = participant_rows(s, study_id=study.id)
    return pd.DataFrame([{k: r[k] for k in FAILURE_COLUMNS} for r in rows], columns=FAILURE_COLUMNS)


def study_link(settings: Settings, name: str, *, base_url: str) -> dict[str, Any]:
    """What to paste into the platform: {study, platform, url (the study link with the platform's
    placeholders), completion_code, screenout_code, max_participants}. Generates the codes if the
    study has none yet."""
    with unit_of_work(settings) as s:
        study = get_study(s, name=name)
        config = _link_config(study)
        completion, screenout = rules.ensure_codes(s, study_id=study.id, config=config, now=utc_now())
    platform = config.recruitment.platform
    placeholders = {
        "prolific": {
            "PROLIFIC_PID": "{{%PROLIFIC_PID%}}",
            "STUDY_ID": "{{%STUDY_ID%}}",
            "SESSION_ID": "{{%SESSION_ID%}}",
        },
        "mturk": {},  # MTurk appends workerId, assignmentId, hitId and turkSubmitTo itself
        "generic": {"pid": "PARTICIPANT_ID"},
    }[platform]
    query = urlencode({"study": study.name, **placeholders}, safe="{}%")
    return {
        "study": study.name,
        "platform": platform,
        "url": f"{base_url.rstrip('/')}/?{query}",
        "completion_code": completion,
        "screenout_code": screenout,
        "completion_url": config.recruitment.completion_url,
        "screenout_url": config.recruitment.screenout_url,
        "max_participants": config.recruitment.max_participants,
    }


def mark_returned(settings: Settings, name: str, *, pids: list[str]) -> int:
    """Mark participants who returned the study on their platform (``returned``; their unfinished
    items are released, their place is free). Raises ParticipantsError for an unknown pid. Returns
    how many changed (a participant who already ended keeps their status)."""
    now = utc_now()
    changed = 0
    with unit_of_work(settings) as s:
        study = get_study(s, name=name)
        _link_config(study)
        for pid in pids:
            participant = participant_by_pid(s, study_id=study.id, pid=pid)
            if participant is None:
                raise ParticipantsError(f"study {name!r} has no participant {pid!r}")
            changed += rules.end_participation(
                s, participant, status="returned", now=now, reason="returned on the platform"
            )
    return changed
