"""Outcome blinding: a study's outcome numbers per condition stay hidden from the researcher while it
runs. (Hiding which condition a rater sees is another thing: condition hiding, ``hide_condition``.)

While a study is not closed and nobody has unblinded it, the researcher sees progress, attrition
and rater quality live, but no number that compares conditions on outcomes, so that nobody stops
(or extends) a study because of what an early look showed. Unblinding is a recorded act
(``StudyUnblinding``: who, when, why, through which verb): `study unblind`, `study close`, or an
`analyze --unblind` of a study that is still running. Records are appended, never replaced: the
first is the unblinding, later ones are later looks (every analysis of an unclosed study is one),
so a reviewer can count the interim looks.
"""

from __future__ import annotations

import getpass
import logging
from collections.abc import Iterable
from datetime import UTC
from typing import Any

from trustlab.config import Settings
from trustlab.db.engine import DbSession, read_session, unit_of_work
from trustlab.db.queries.studies import add_unblinding, get_study, study_unblindings
from trustlab.db.schema import StudyUnblinding

log = logging.getLogger(__name__)

# How a look happened: `study unblind`, `study close`, `analyze` or `study export` of a running study.
SOURCES = ("unblind", "close", "analyze", "export")
LOOK_SOURCES = ("analyze", "export")


class StillBlinded(ValueError):
    """An analysis of a blinded study was asked for without unblinding it."""


def default_actor() -> str:
    """Who runs this process (the OS user), for the unblinding record."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no user name in the environment or the password database
        log.debug("no OS user name; the look is recorded as 'unknown'", exc_info=True)
        return "unknown"


def blinded_reason(study: str) -> str:
    """The sentence shown instead of outcome numbers: why, and how to unblind."""
    return (
        f"outcome numbers per condition are blinded while study {study!r} runs (no optional stopping "
        f"by peeking); they show after `trustlab study close {study}`, or after "
        f"`trustlab study unblind {study} --reason TEXT`, which records who, when and why"
    )


def record_of(row: StudyUnblinding) -> dict[str, Any]:
    """One record as {source, actor, reason, at} (``at``: ISO 8601 in UTC)."""
    at = row.created_at if row.created_at.tzinfo else row.created_at.replace(tzinfo=UTC)  # SQLite: naive
    return {
        "source": row.source,
        "actor": row.actor,
        "reason": row.reason,
        "at": at.astimezone(UTC).isoformat(timespec="seconds"),
    }


def blinding_state(study: str, status: str, rows: Iterable[StudyUnblinding]) -> dict[str, Any]:
    """{blinded, reason, unblinded, looks} of a study with ``status`` and its unblinding ``rows``
    (oldest first). ``unblinded`` is the first record ({source, actor, reason, at}) or None;
    ``looks`` every record; ``reason`` says how to unblind (None when not blinded). A closed study is
    never blinded, even without a record (closed before records were kept)."""
    looks = [record_of(r) for r in rows]
    blinded = status != "closed" and not looks
    return {
        "blinded": blinded,
        "reason": blinded_reason(study) if blinded else None,
        "unblinded": looks[0] if looks else None,
        "looks": looks,
    }


def session_blinding(session: DbSession, *, study_id: int, name: str, status: str) -> dict[str, Any]:
    """``blinding_state`` read inside an open session."""
    return blinding_state(name, status, study_unblindings(session, study_id=study_id))


def study_blinding(settings: Settings, name: str) -> dict[str, Any]:
    """``blinding_state`` of the study named ``name`` (raises NotFound)."""
    with read_session(settings) as session:
        study = get_study(session, name=name)
        return session_blinding(session, study_id=study.id, name=study.name, status=study.status)


def record_unblinding(
    session: DbSession, *, study_id: int, source: str, actor: str | None = None, reason: str = ""
) -> StudyUnblinding:
    """Append one unblinding record (``source`` one of SOURCES; ``actor`` defaults to the OS user)."""
    if source not in SOURCES:
        raise ValueError(f"source {source!r} is not one of {', '.join(SOURCES)}")
    return add_unblinding(
        session, study_id=study_id, source=source, actor=actor or default_actor(), reason=reason.strip()
    )


def unblind_study(settings: Settings, name: str, *, actor: str | None = None, reason: str = "") -> dict:
    """`study unblind`: record who (``actor``, default the OS user), when and why, so the outcome
    numbers per condition show while the study runs. Unblinding again appends another record (the
    first stays the unblinding). Returns the study's ``blinding_state`` afterwards."""
    with unit_of_work(settings) as session:
        study = get_study(session, name=name)
        record_unblinding(session, study_id=study.id, source="unblind", actor=actor, reason=reason)
        return session_blinding(session, study_id=study.id, name=study.name, status=study.status)


def analysis_look(
    settings: Settings,
    name: str,
    *,
    unblind: bool,
    actor: str | None = None,
    reason: str = "",
    source: str = "analyze",
) -> dict[str, Any] | None:
    """Guard an analysis of study ``name``: None when the study is closed (no look to record).

    Otherwise the analysis (or, with ``source="export"``, the export of the raw judgements) is an
    interim look at outcome numbers: refused (``StillBlinded``) while the study is blinded unless
    ``unblind``; else recorded (``source``) and the ``blinding_state`` afterwards returned, with
    ``interim_look`` = how many analyses and exports of the running study there have been, this one
    included.
    """
    with unit_of_work(settings) as session:
        study = get_study(session, name=name)
        if study.status == "closed":
            return None
        before = session_blinding(session, study_id=study.id, name=study.name, status=study.status)
        if before["blinded"] and not unblind:
            doing = "analysing" if source == "analyze" else "exporting its judgements"
            raise StillBlinded(
                f"study {study.name!r} is {study.status} and blinded: {doing} now is an unblinded "
                "look at its outcomes (optional stopping). Close it first (`trustlab study close "
                f"{study.name}`), unblind it (`trustlab study unblind {study.name} --reason TEXT`), or "
                "pass --unblind [--reason TEXT] to look anyway; every look is recorded with who and when"
            )
        record_unblinding(session, study_id=study.id, source=source, actor=actor, reason=reason)
        after = session_blinding(session, study_id=study.id, name=study.name, status=study.status)
        after["interim_look"] = sum(look["source"] in LOOK_SOURCES for look in after["looks"])
        return after
