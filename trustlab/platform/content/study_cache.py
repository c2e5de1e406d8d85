"""What the app knows about a study between requests: its config, classes and questions, read from
the database and kept for a few seconds (a study's config never changes while it is open)."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any, Protocol

from trustlab.config import Settings
from trustlab.db.engine import read_session
from trustlab.db.queries.imported_methods import imported_methods_named
from trustlab.db.queries.labels import class_names
from trustlab.db.queries.models import find_model_version
from trustlab.db.queries.studies import get_study, get_study_by_id, list_studies
from trustlab.platform.accounts.auth import Principal
from trustlab.platform.errors import NotFoundError, lookups_as_404
from trustlab.studies.config.study import StudyConfig, load_study_config
from trustlab.studies.questions import questions_for

# Re-reading a study at most this often keeps `next` to a handful of queries under load.
STUDY_CACHE_TTL_S = 5.0


@dataclass(frozen=True)
class StudyContext:
    id: int
    name: str
    status: str
    dataset_id: int
    model_version_id: int
    model_name: str
    config: StudyConfig
    class_names: list[str]
    questions: list[dict[str, Any]]
    # The study's imported explanation methods: {name: {title, description, params}}.
    imported_methods: dict[str, dict[str, Any]] = field(default_factory=dict)


class StudyCache:
    """Study contexts by name or id, each kept for ``ttl_s`` seconds (thread-safe)."""

    def __init__(self, settings: Settings, *, ttl_s: float = STUDY_CACHE_TTL_S) -> None:
        self.settings = settings
        self.ttl_s = ttl_s
        self._entries: dict[int | str, tuple[float, StudyContext]] = {}
        self._lock = threading.Lock()

    def get(
        self, *, name: str | None = None, study_id: int | None = None, fresh: bool = False
    ) -> StudyContext:
        """The study's context by name or id (from the cache unless ``fresh`` or older than the TTL).

        Raises NotFoundError naming the known studies."""
        key: int | str = study_id if study_id is not None else str(name)
        with self._lock:
            hit = self._entries.get(key)
        if hit is not None and not fresh and time.monotonic() - hit[0] < self.ttl_s:
            return hit[1]
        with read_session(self.settings) as s:
            with lookups_as_404():
                row = (
                    get_study_by_id(s, study_id=study_id)
                    if study_id is not None
                    else get_study(s, name=str(name))
                )
            config = load_study_config(row.config)
            classes = class_names(s, dataset_id=row.dataset_id)
            model = find_model_version(s, name=config.model)
            ctx = StudyContext(
                id=row.id,
                name=row.name,
                status=row.status,
                dataset_id=row.dataset_id,
                model_version_id=row.model_version_id,
                model_name=model.name if model else config.model,
                config=config,
                class_names=classes,
                questions=questions_for(config, classes),
                imported_methods={
                    m.name: {"title": m.title, "description": m.description, "params": dict(m.params or {})}
                    for m in imported_methods_named(s, names=config.imported_methods)
                },
            )
        stamp = time.monotonic()
        with self._lock:
            self._entries[ctx.id] = (stamp, ctx)
            self._entries[ctx.name] = (stamp, ctx)
        return ctx

    def names(self) -> list[dict[str, Any]]:
        """[{name, status, id}] of every study, by name."""
        with read_session(self.settings) as s:
            return [{"name": st.name, "status": st.status, "id": st.id} for st in list_studies(s)]


class StudyLookup(Protocol):
    """What the rater flow needs of ``services.rater.Services``: the settings and study contexts.

    A Protocol rather than the class because ``Services`` imports the modules that take it
    (``services.answers``, ``recruitment.join``, ``recruitment.steps``)."""

    settings: Settings

    def study(
        self, *, name: str | None = None, study_id: int | None = None, fresh: bool = False
    ) -> StudyContext: ...


def rater_study(services: StudyLookup, principal: Principal, *, name: str | None = None) -> StudyContext:
    """The study this rater rates in: the one its invite was for, or the link study it joined.

    ``name``: the study the request names; another name is a plain 404 that names no study but the
    rater's own (a rater must not learn which studies exist). NotFoundError too for an account bound
    to no study (staff)."""
    ctx = services.study(study_id=principal.study_id) if principal.study_id is not None else None
    if name is not None and (ctx is None or ctx.name != name):
        raise NotFoundError(
            f"you have no study called {name!r}"
            + (f"; your invite is for study {ctx.name!r}" if ctx is not None else "")
        )
    if ctx is None:
        raise NotFoundError("this account rates in no study")
    return ctx


def rater_study_or_none(services: StudyLookup, principal: Principal) -> StudyContext | None:
    """``rater_study``, or None for an account bound to no study (staff)."""
    return None if principal.study_id is None else rater_study(services, principal)
