"""Queries for relabelling: rater answers, out-of-sample predictions, proposals and label revisions.

This is the only module that changes ``Item.current_label``; it always does so together with a
``LabelRevision`` row in the same transaction (``_change_label`` + one commit per public writer).
``Item.original_label`` is never written here.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from trustlab.db.items import NotFound, ensure_labels
from trustlab.db.schema import (
    Assignment,
    Explanation,
    Item,
    Judgement,
    LabelRevision,
    ModelVersion,
    Prediction,
    RelabelProposal,
    Study,
    utcnow,
)
from trustlab.db.studyq import get_study  # noqa: F401 - one copy, in studyq

# Proposal statuses. "other" = the curator chose a label different from the proposed one;
# "superseded" = another proposal for the same item was decided first, so this one is moot.
OPEN = "open"
ACCEPTED = "accepted"
REJECTED = "rejected"
OTHER = "other"
SUPERSEDED = "superseded"
DECIDED_STATUSES = (ACCEPTED, REJECTED, OTHER)

# LabelRevision.source values written here.
SOURCE_CURATOR = "curator"
SOURCE_MERGE = "merge"
SOURCE_UNDO = "undo"

# Judgement answer key holding a rater's class for the item (studies.questions.TASK_ANSWER).
TRUE_LABEL_KEY = "true_label"
CANT_TELL_KEY = "cant_tell"


# ---------------------------------------------------------------- rater answers


def rater_label_answers(
    session: Session, *, study_id: int | None = None, dataset_id: int | None = None
) -> list[tuple[int, int, str]]:
    """Raters' ``true_label`` answers as ``(item_id, rater_id, label)`` triples.

    Only the latest non-superseded judgement of each assignment counts; answers that are missing,
    empty or marked ``cant_tell`` are skipped. Filter by one study, or by every study of a dataset.
    """
    if (study_id is None) == (dataset_id is None):
        raise ValueError("pass exactly one of study_id or dataset_id")
    superseded = select(Judgement.supersedes_id).where(Judgement.supersedes_id.is_not(None))
    query = (
        select(Judgement.id, Judgement.assignment_id, Assignment.item_id, Assignment.rater_id,
               Judgement.answers)
        .join(Assignment, Judgement.assignment_id == Assignment.id)
        .where(Judgement.id.not_in(superseded))
        .order_by(Judgement.id)
    )
    if study_id is not None:
        query = query.where(Assignment.study_id == study_id)
    else:
        query = query.join(Study, Assignment.study_id == Study.id).where(Study.dataset_id == dataset_id)
    latest: dict[int, tuple[int, int, dict[str, Any]]] = {}
    for _jid, assignment_id, item_id, rater_id, answers in session.execute(query):
        latest[assignment_id] = (item_id, rater_id, answers or {})  # ordered by id: the last one wins
    out = []
    for item_id, rater_id, answers in latest.values():
        label = answers.get(TRUE_LABEL_KEY)
        if not label or answers.get(CANT_TELL_KEY):
            continue
        out.append((item_id, rater_id, str(label)))
    return out


def study_item_ids(session: Session, *, study_id: int) -> list[int]:
    """Items that have an assignment in the study (rated or not), in id order."""
    query = select(Assignment.item_id).where(Assignment.study_id == study_id).distinct()
    return sorted(session.scalars(query))


# ---------------------------------------------------------------- predictions


def get_model_by_name(session: Session, *, name: str) -> ModelVersion:
    model = session.scalars(select(ModelVersion).where(ModelVersion.name == name)).first()
    if model is None:
        names = session.scalars(select(ModelVersion.name).order_by(ModelVersion.name))
        known = ", ".join(names) or "none yet"
        raise NotFound(f"model {name!r} does not exist (known: {known}); train one with `trustlab train`")
    return model


def out_of_sample_predictions(
    session: Session, *, model_version_id: int, item_ids: Iterable[int] | None = None
) -> dict[int, Prediction]:
    """{item_id: Prediction} with probabilities the model computed without training on the item.

    "crossval" predictions are preferred; a "holdout" prediction counts only for items outside the
    training split (val/test), because on train items it is in-sample and over-confident.
    """
    query = (
        select(Prediction, Item.split)
        .join(Item, Prediction.item_id == Item.id)
        .where(Prediction.model_version_id == model_version_id, Prediction.kind.in_(("crossval", "holdout")))
    )
    wanted = None if item_ids is None else set(item_ids)
    out: dict[int, Prediction] = {}
    for prediction, split in session.execute(query):
        if wanted is not None and prediction.item_id not in wanted:
            continue
        if prediction.kind == "holdout" and split == "train":
            continue
        if prediction.kind == "crossval" or prediction.item_id not in out:
            out[prediction.item_id] = prediction
    return out


def twin_neighbours(session: Session, *, item_ids: Sequence[int]) -> dict[int, list[dict[str, Any]]]:
    """{item_id: neighbours} from the newest twin Explanation of any prediction of each item."""
    if not item_ids:
        return {}
    query = (
        select(Prediction.item_id, Explanation.neighbours)
        .join(Explanation, Explanation.prediction_id == Prediction.id)
        .where(Prediction.item_id.in_(list(item_ids)), Explanation.method == "twin")
        .order_by(Explanation.id)
    )
    return {item_id: list(neighbours or []) for item_id, neighbours in session.execute(query)}


def item_explanations(session: Session, *, item_id: int) -> list[dict[str, Any]]:
    """Every stored explanation of an item: [{method, overlay_path, neighbours, model_version_id}]."""
    query = (
        select(Explanation.method, Explanation.overlay_path, Explanation.neighbours,
               Prediction.model_version_id)
        .join(Prediction, Explanation.prediction_id == Prediction.id)
        .where(Prediction.item_id == item_id)
        .order_by(Explanation.id)
    )
    return [
        {"method": m, "overlay_path": o, "neighbours": n, "model_version_id": mv}
        for m, o, n, mv in session.execute(query)
    ]


# ---------------------------------------------------------------- proposals


def get_proposal(session: Session, *, proposal_id: int) -> RelabelProposal:
    proposal = session.get(RelabelProposal, proposal_id)
    if proposal is None:
        raise NotFound(f"proposal {proposal_id} does not exist; list open ones with `trustlab labels queue`")
    return proposal


def proposals_by_key(session: Session, *, dataset_id: int) -> dict[tuple[int, str], RelabelProposal]:
    """{(item_id, proposed_label): proposal} for open and decided proposals (newest wins)."""
    query = (
        select(RelabelProposal)
        .where(RelabelProposal.dataset_id == dataset_id, RelabelProposal.status != SUPERSEDED)
        .order_by(RelabelProposal.id)
    )
    out: dict[tuple[int, str], RelabelProposal] = {}
    for proposal in session.scalars(query):
        key = (proposal.item_id, proposal.proposed_label)
        if key in out and out[key].status in DECIDED_STATUSES:
            continue  # a decision is never hidden by a later open duplicate
        out[key] = proposal
    return out


def upsert_proposals(session: Session, *, dataset_id: int, rows: Sequence[dict[str, Any]]) -> dict[str, int]:
    """Store proposals: new (item, proposed label) pairs are added, open ones refreshed, decided
    ones left alone. Each row has item_id, current_label, proposed_label, score, method, evidence.

    Returns counts {"added", "refreshed", "skipped_decided"} and sets row["proposal_id"].
    """
    existing = proposals_by_key(session, dataset_id=dataset_id)
    counts = {"added": 0, "refreshed": 0, "skipped_decided": 0}
    new: list[tuple[dict[str, Any], RelabelProposal]] = []
    for row in rows:
        key = (int(row["item_id"]), str(row["proposed_label"]))
        found = existing.get(key)
        if found is not None and found.status in DECIDED_STATUSES:
            counts["skipped_decided"] += 1
            row["proposal_id"] = None
            continue
        if found is not None:
            found.current_label = row["current_label"]
            found.score = float(row["score"])
            found.method = row["method"]
            found.evidence = row.get("evidence", {})
            row["proposal_id"] = found.id
            counts["refreshed"] += 1
            continue
        proposal = RelabelProposal(
            dataset_id=dataset_id, item_id=key[0], current_label=row["current_label"], proposed_label=key[1],
            score=float(row["score"]), method=row["method"], evidence=row.get("evidence", {}), status=OPEN,
        )
        session.add(proposal)
        existing[key] = proposal
        new.append((row, proposal))
        counts["added"] += 1
    session.flush()
    for row, proposal in new:
        row["proposal_id"] = proposal.id
    session.commit()
    return counts


def open_proposals(
    session: Session, *, dataset_id: int, limit: int | None = None
) -> list[tuple[RelabelProposal, Item]]:
    """Open proposals with their items, best score first (ties: oldest first)."""
    query = (
        select(RelabelProposal, Item)
        .join(Item, RelabelProposal.item_id == Item.id)
        .where(RelabelProposal.dataset_id == dataset_id, RelabelProposal.status == OPEN)
        .order_by(RelabelProposal.score.desc(), RelabelProposal.id)
    )
    if limit is not None:
        query = query.limit(limit)
    return [(p, i) for p, i in session.execute(query)]


def decided_item_labels(session: Session, *, dataset_id: int) -> set[tuple[int, str]]:
    """(item_id, proposed_label) pairs a curator already accepted, rejected or overrode."""
    query = select(RelabelProposal.item_id, RelabelProposal.proposed_label).where(
        RelabelProposal.dataset_id == dataset_id, RelabelProposal.status.in_(DECIDED_STATUSES)
    )
    return {(i, label) for i, label in session.execute(query)}


# ---------------------------------------------------------------- label changes


def _change_label(
    session: Session, *, item: Item, new_label: str, source: str, actor: str,
    evidence: dict[str, Any] | None = None, proposal_id: int | None = None, when: datetime | None = None,
) -> LabelRevision:
    """Add the revision and move ``current_label``; the caller commits both together."""
    revision = LabelRevision(
        item_id=item.id, old_label=item.current_label, new_label=new_label, source=source,
        evidence=evidence or {}, actor=actor, proposal_id=proposal_id, created_at=when or utcnow(),
    )
    session.add(revision)
    item.current_label = new_label
    return revision


def decide_proposal(
    session: Session, *, proposal: RelabelProposal, status: str, new_label: str | None, actor: str,
    evidence: dict[str, Any] | None = None,
) -> LabelRevision | None:
    """Record a curator's decision; with ``new_label`` also change the item's label (one commit).

    Other open proposals of the same item are marked superseded when the label changes.
    """
    now = utcnow()
    revision = None
    if new_label is not None:
        item = session.get(Item, proposal.item_id)
        if item is None:
            raise NotFound(f"item {proposal.item_id} of proposal {proposal.id} does not exist")
        if item.current_label != new_label:
            revision = _change_label(session, item=item, new_label=new_label, source=SOURCE_CURATOR,
                                     actor=actor, evidence=evidence, proposal_id=proposal.id, when=now)
        others = select(RelabelProposal).where(
            RelabelProposal.item_id == proposal.item_id, RelabelProposal.status == OPEN,
            RelabelProposal.id != proposal.id,
        )
        for other in session.scalars(others):
            other.status = SUPERSEDED
    proposal.status = status
    proposal.decided_by = actor
    proposal.decided_at = now
    session.commit()
    return revision


def item_revisions(session: Session, *, item_id: int) -> list[LabelRevision]:
    query = select(LabelRevision).where(LabelRevision.item_id == item_id).order_by(LabelRevision.id)
    return list(session.scalars(query))


def undo_revision(session: Session, *, item: Item, revision: LabelRevision, actor: str) -> LabelRevision:
    """A new revision back to ``revision.old_label``; a proposal it came from is reopened."""
    new = _change_label(session, item=item, new_label=revision.old_label, source=SOURCE_UNDO, actor=actor,
                        evidence={"undoes_revision_id": revision.id, "undone_source": revision.source})
    if revision.proposal_id is not None:
        proposal = session.get(RelabelProposal, revision.proposal_id)
        if proposal is not None:
            proposal.status = OPEN
            proposal.decided_by = None
            proposal.decided_at = None
    session.commit()
    return new


def merge_item_labels(
    session: Session, *, dataset_id: int, sources: Sequence[str], into: str, actor: str
) -> list[LabelRevision]:
    """Relabel every item whose current label is in ``sources`` to ``into`` (added as a class when
    new), one revision per changed item, all in one commit."""
    ensure_labels(session, dataset_id=dataset_id, names=[into])
    query = (
        select(Item)
        .where(Item.dataset_id == dataset_id, Item.current_label.in_(list(sources)),
               Item.current_label != into)
        .order_by(Item.id)
    )
    evidence = {"merged": list(sources), "into": into}
    now = utcnow()
    revisions = [
        _change_label(session, item=item, new_label=into, source=SOURCE_MERGE, actor=actor,
                      evidence=evidence, when=now)
        for item in session.scalars(query)
    ]
    session.commit()
    return revisions


def label_export_rows(session: Session, *, dataset_id: int) -> list[dict[str, Any]]:
    """One row per item with its labels and revision summary, in item id order."""
    stats = (
        select(LabelRevision.item_id, func.count().label("n"), func.max(LabelRevision.id).label("last_id"))
        .join(Item, LabelRevision.item_id == Item.id)
        .where(Item.dataset_id == dataset_id)
        .group_by(LabelRevision.item_id)
        .subquery()
    )
    query = (
        select(Item, stats.c.n, LabelRevision.actor, LabelRevision.created_at)
        .outerjoin(stats, stats.c.item_id == Item.id)
        .outerjoin(LabelRevision, LabelRevision.id == stats.c.last_id)
        .where(Item.dataset_id == dataset_id)
        .order_by(Item.id)
    )
    return [
        {
            "item_id": item.id, "path": item.path, "split": item.split,
            "original_label": item.original_label, "current_label": item.current_label,
            "n_revisions": int(n or 0), "last_change_by": actor, "last_change_at": at,
        }
        for item, n, actor, at in session.execute(query)
    ]
