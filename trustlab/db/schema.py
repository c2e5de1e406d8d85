"""SQLAlchemy 2 typed models for the whole data model (see DESIGN.md).

Labels are referenced by name through a composite foreign key (dataset_id, name), so an item can
never carry a class its dataset does not have. Judgements and label revisions are append-only.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON, datetime: DateTime(timezone=True)}


class Dataset(Base):
    __tablename__ = "datasets"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    labels: Mapped[list[Label]] = relationship(back_populates="dataset", order_by="Label.index")


class Label(Base):
    """A class name of a dataset; ``index`` is its position in the class order."""

    __tablename__ = "labels"
    __table_args__ = (
        UniqueConstraint("dataset_id", "name"),
        UniqueConstraint("dataset_id", "index"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    index: Mapped[int] = mapped_column(Integer)
    dataset: Mapped[Dataset] = relationship(back_populates="labels")


class Item(Base):
    """One image. ``path`` is the normalised RGB PNG relative to TRUSTLAB_HOME/images;
    ``sha256`` is of the original file's bytes; ``original_label`` never changes."""

    __tablename__ = "items"
    __table_args__ = (
        UniqueConstraint("dataset_id", "sha256"),
        ForeignKeyConstraint(["dataset_id", "original_label"], ["labels.dataset_id", "labels.name"]),
        ForeignKeyConstraint(["dataset_id", "current_label"], ["labels.dataset_id", "labels.name"]),
        Index("ix_items_dataset_split", "dataset_id", "split"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id", ondelete="CASCADE"))
    path: Mapped[str] = mapped_column(String(500))
    source_path: Mapped[str] = mapped_column(String(1000))
    sha256: Mapped[str] = mapped_column(String(64))
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    split: Mapped[str] = mapped_column(String(20))
    original_label: Mapped[str] = mapped_column(String(200))
    current_label: Mapped[str] = mapped_column(String(200))
    mask_path: Mapped[str | None] = mapped_column(String(500), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ModelVersion(Base):
    __tablename__ = "model_versions"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id"))
    arch: Mapped[str] = mapped_column(String(200))  # see models/zoo.py ARCH_MAX_LENGTH
    checkpoint_path: Mapped[str] = mapped_column(String(1000))
    checkpoint_sha256: Mapped[str] = mapped_column(String(64))
    class_names: Mapped[list[Any]] = mapped_column(JSON)
    img_size: Mapped[int] = mapped_column(Integer)
    labels_source: Mapped[str] = mapped_column(String(20), default="original")
    training_config: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    history: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    metrics: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Prediction(Base):
    """``kind`` is 'holdout' (the model scored an item it did not train on, or any item for
    inference) or 'crossval' (out-of-sample probability from K-fold retraining)."""

    __tablename__ = "predictions"
    __table_args__ = (UniqueConstraint("model_version_id", "item_id", "kind"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    model_version_id: Mapped[int] = mapped_column(ForeignKey("model_versions.id", ondelete="CASCADE"))
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(20), default="holdout")
    probabilities: Mapped[list[Any]] = mapped_column(JSON)
    predicted_label: Mapped[str] = mapped_column(String(200))
    confidence: Mapped[float] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Explanation(Base):
    """One explanation of a prediction by one method with one parameter set (``params_key`` is a
    hash of the canonical params). Artifact paths are relative to TRUSTLAB_HOME/artifacts."""

    __tablename__ = "explanations"
    __table_args__ = (UniqueConstraint("prediction_id", "method", "params_key"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    prediction_id: Mapped[int] = mapped_column(ForeignKey("predictions.id", ondelete="CASCADE"))
    method: Mapped[str] = mapped_column(String(50), index=True)
    params_key: Mapped[str] = mapped_column(String(64))
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    seed: Mapped[int | None] = mapped_column(Integer, default=None)
    raw_path: Mapped[str | None] = mapped_column(String(500), default=None)
    overlay_path: Mapped[str | None] = mapped_column(String(500), default=None)
    extra: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    neighbours: Mapped[list[Any] | None] = mapped_column(JSON, default=None)
    faithfulness: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    compute_ms: Mapped[float] = mapped_column(Float, default=0.0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Study(Base):
    __tablename__ = "studies"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id"))
    model_version_id: Mapped[int] = mapped_column(ForeignKey("model_versions.id"))
    config: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(20), default="draft")  # draft | open | closed
    # Whether the researcher wrote the config's `analysis:` block (``config`` holds its defaults too).
    analysis_declared: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class StudyPreregistration(Base):
    """The confirmatory analysis as it stood when the study first opened (one row per study, never
    changed): the ``analysis:`` block, its SHA-256, whether the researcher wrote it, who opened the
    study and when, and how many judgements existed then (0 when recorded before the first one)."""

    __tablename__ = "study_preregistrations"
    id: Mapped[int] = mapped_column(primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id", ondelete="CASCADE"), unique=True)
    analysis: Mapped[dict[str, Any]] = mapped_column(JSON)
    analysis_sha256: Mapped[str] = mapped_column(String(64))
    declared: Mapped[bool] = mapped_column(Boolean)
    actor: Mapped[str] = mapped_column(String(200))
    judgements_before: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class StudyUnblinding(Base):
    """A look at a study's outcome numbers per condition before or at its end (append-only).

    A study is blinded while it is not closed and has no row here. ``source``: unblind (`study
    unblind`), close (`study close`), analyze / export (`analyze`, `study export` or the judgements CSV
    of a study that is not closed). The first row is the unblinding; later rows record later looks.
    """

    __tablename__ = "study_unblindings"
    id: Mapped[int] = mapped_column(primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id", ondelete="CASCADE"), index=True)
    source: Mapped[str] = mapped_column(String(20))  # unblind | close | analyze | export
    actor: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class StudyItem(Base):
    """An item selected into a study; gold items carry the answers a rater must give."""

    __tablename__ = "study_items"
    __table_args__ = (UniqueConstraint("study_id", "item_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id", ondelete="CASCADE"))
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id"))
    is_gold: Mapped[bool] = mapped_column(Boolean, default=False)
    gold_answers: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    model_correct: Mapped[bool | None] = mapped_column(Boolean, default=None)
    # The study's truth, frozen at `study create`: the item's label then, and the newest label revision
    # it came from (None: the original label). Model correctness, class answers and gold are scored
    # against it, so a curator's later relabel cannot move a running or finished study.
    label: Mapped[str | None] = mapped_column(String(200), default=None)
    label_revision_id: Mapped[int | None] = mapped_column(ForeignKey("label_revisions.id"), default=None)


class User(Base):
    """Every account: role is rater, researcher, curator or admin. Invited raters belong to one study;
    staff log in with ``secret_hash`` (a slow KDF of their password). Other tables point at raters
    through ``rater_id`` columns."""

    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(200), unique=True)
    role: Mapped[str] = mapped_column(String(20), default="rater")
    secret_hash: Mapped[str | None] = mapped_column(String(300), default=None)
    study_id: Mapped[int | None] = mapped_column(ForeignKey("studies.id"), default=None)
    external_pid: Mapped[str | None] = mapped_column(String(200), default=None)
    completion_code: Mapped[str | None] = mapped_column(String(64), default=None)
    simulated: Mapped[bool] = mapped_column(Boolean, default=False)
    # Set by `trustlab user disable`: the account cannot sign in and its tokens stop working.
    disabled_at: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Invite(Base):
    __tablename__ = "invites"
    id: Mapped[int] = mapped_column(primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id", ondelete="CASCADE"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    rater_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    expires_at: Mapped[datetime | None] = mapped_column(default=None)
    accepted_at: Mapped[datetime | None] = mapped_column(default=None)
    # Decided when the invite is made (the rater simulator's invites), never by the client.
    simulated: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AuthToken(Base):
    """A bearer token (stored hashed) for the REST API and the UI."""

    __tablename__ = "auth_tokens"
    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    rater_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    # Every token expires (indexed: expired tokens are purged whenever a token is issued).
    expires_at: Mapped[datetime] = mapped_column(index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Assignment(Base):
    __tablename__ = "assignments"
    __table_args__ = (
        UniqueConstraint("study_id", "rater_id", "item_id"),
        Index("ix_assignments_study_item", "study_id", "item_id"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id", ondelete="CASCADE"))
    rater_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id"))
    condition: Mapped[str] = mapped_column(String(100))
    position: Mapped[int] = mapped_column(Integer)
    is_gold: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(20), default="assigned")  # assigned | done | released
    assigned_at: Mapped[datetime] = mapped_column(default=utcnow)
    # When the item was first shown to the rater: the start of its response time (a rater's whole
    # list is assigned on arrival, so assigned_at says nothing about when they looked at it).
    served_at: Mapped[datetime | None] = mapped_column(default=None)
    completed_at: Mapped[datetime | None] = mapped_column(default=None)


class Judgement(Base):
    """Append-only: a changed answer is a new row whose ``supersedes_id`` points at the old one.

    A judgement has at most one successor (the chain never forks), and a client's idempotency key
    is unique within its assignment (keys of different assignments never collide).
    """

    __tablename__ = "judgements"
    __table_args__ = (
        Index("ux_judgements_assignment_key", "assignment_id", "idempotency_key", unique=True),
        Index("ux_judgements_supersedes_id", "supersedes_id", unique=True),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    assignment_id: Mapped[int] = mapped_column(ForeignKey("assignments.id"), index=True)
    answers: Mapped[dict[str, Any]] = mapped_column(JSON)
    idempotency_key: Mapped[str] = mapped_column(String(200))
    response_ms: Mapped[float | None] = mapped_column(Float, default=None)
    client_elapsed_ms: Mapped[float | None] = mapped_column(Float, default=None)
    supersedes_id: Mapped[int | None] = mapped_column(ForeignKey("judgements.id"), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class RelabelProposal(Base):
    __tablename__ = "relabel_proposals"
    __table_args__ = (Index("ix_relabel_proposals_dataset_status", "dataset_id", "status"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id", ondelete="CASCADE"))
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"))
    current_label: Mapped[str] = mapped_column(String(200))
    proposed_label: Mapped[str] = mapped_column(String(200))
    score: Mapped[float] = mapped_column(Float)
    method: Mapped[str] = mapped_column(String(50))
    evidence: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(20), default="open")  # open | accepted | rejected
    decided_by: Mapped[str | None] = mapped_column(String(200), default=None)
    decided_at: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class LabelRevision(Base):
    """A change of an item's current label. Undo is a new revision; nothing is ever updated."""

    __tablename__ = "label_revisions"
    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"), index=True)
    old_label: Mapped[str] = mapped_column(String(200))
    new_label: Mapped[str] = mapped_column(String(200))
    source: Mapped[str] = mapped_column(String(50))  # curator | merge | undo | import
    evidence: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    actor: Mapped[str] = mapped_column(String(200))
    proposal_id: Mapped[int | None] = mapped_column(ForeignKey("relabel_proposals.id"), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Participant(Base):
    """A participant of a link study: one per participant id (``pid``) per study,
    bound to the one User (role rater) that rates for it. ``params``: the platform's URL parameters (STUDY_ID,
    SESSION_ID; assignmentId, hitId, turkSubmitTo). ``status``: started | completed | screened_out |
    timed_out | returned. A participant who declines consent is never stored."""

    __tablename__ = "participants"
    __table_args__ = (
        UniqueConstraint("study_id", "pid"),
        Index("ix_participants_study_status", "study_id", "status"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id", ondelete="CASCADE"))
    rater_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), unique=True)
    pid: Mapped[str] = mapped_column(String(200))
    platform: Mapped[str] = mapped_column(String(20))
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(20), default="started")
    status_reason: Mapped[str | None] = mapped_column(String(200), default=None)
    consent_at: Mapped[datetime | None] = mapped_column(default=None)
    instructions_opened: Mapped[int] = mapped_column(Integer, default=0)
    instructions_first_at: Mapped[datetime | None] = mapped_column(default=None)
    instructions_last_at: Mapped[datetime | None] = mapped_column(default=None)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)
    attention_failures: Mapped[int] = mapped_column(Integer, default=0)
    gold_failures: Mapped[int] = mapped_column(Integer, default=0)
    completion_code: Mapped[str | None] = mapped_column(String(64), default=None)


class ParticipantAnswer(Base):
    """A participant's answer to a practice item or an attention check (``kind`` practice |
    attention; ``index`` its place in the study's list). Never a Judgement, so never analysed."""

    __tablename__ = "participant_answers"
    __table_args__ = (UniqueConstraint("participant_id", "kind", "index"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    participant_id: Mapped[int] = mapped_column(ForeignKey("participants.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    index: Mapped[int] = mapped_column(Integer)
    item_id: Mapped[int | None] = mapped_column(ForeignKey("items.id"), default=None)
    answers: Mapped[dict[str, Any]] = mapped_column(JSON)
    correct: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class StudyRecruitment(Base):
    """A link study's completion and screen-out codes (from its YAML, or generated at create)."""

    __tablename__ = "study_recruitment"
    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id", ondelete="CASCADE"), primary_key=True)
    completion_code: Mapped[str] = mapped_column(String(64))
    screenout_code: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ImportedMethod(Base):
    """An explanation method whose heatmaps were computed elsewhere (`trustlab explanations import`):
    what raters are told about it. Its maps are ordinary Explanation rows under ``method = name``."""

    __tablename__ = "imported_methods"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(50), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
