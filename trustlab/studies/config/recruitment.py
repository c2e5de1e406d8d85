"""The recruitment parts of a study config: recruitment, consent and instructions texts,
practice items and attention checks. ``config.StudyConfig`` holds them; they live apart to keep each
module short. Strict like the rest: unknown fields are rejected and every error names the fix.
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from trustlab.studies.config.base import StrictModel, StudyConfigError, check_item_ids

# Recruitment: how raters arrive and where they go when they finish.
RECRUITMENT_MODES: tuple[str, ...] = ("link", "invite")
PLATFORMS: tuple[str, ...] = ("prolific", "mturk", "generic")
# The URL parameters each platform adds to the study link: the participant id's name first.
PLATFORM_PARAMS: dict[str, tuple[str, ...]] = {
    "prolific": ("PROLIFIC_PID", "STUDY_ID", "SESSION_ID"),
    "mturk": ("workerId", "assignmentId", "hitId", "turkSubmitTo"),
    "generic": ("pid",),
}
# What a completion or screen-out URL may fill in: the codes, the pid, and any platform parameter.
URL_PLACEHOLDERS: frozenset[str] = frozenset(
    {"code", "screenout_code", "pid", *(p for params in PLATFORM_PARAMS.values() for p in params)}
)
CODE_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"


def _check_url(url: str | None, field: str) -> str | None:
    if url is None:
        return None
    if not url.startswith(("https://", "http://")):
        raise ValueError(f"{field} must start with https:// (got {url!r})")
    try:
        names = {name for _, name, _, _ in string.Formatter().parse(url) if name is not None}
    except ValueError as exc:
        raise ValueError(f"{field}: {exc}; write placeholders as {{code}}") from None
    unknown = sorted(names - URL_PLACEHOLDERS)
    if unknown:
        raise ValueError(
            f"{field} has unknown placeholder(s) {', '.join('{' + n + '}' for n in unknown)}; "
            f"use {{code}}, {{screenout_code}}, {{pid}} or a platform parameter"
        )
    return url


class RecruitmentSpec(StrictModel):
    """How raters arrive: ``link`` (one public URL; each participant id becomes one rater) or ``invite``
    (single-use invite links). ``platform`` says which URL parameters carry the participant
    id (PROLIFIC_PID; MTurk's workerId; ``pid`` for generic). ``max_participants``: then the study is
    full (409). ``completion_url`` / ``screenout_url``: where a finished / screened-out participant is
    sent, with ``{code}`` / ``{screenout_code}`` filled in. The codes are generated at ``study create``
    unless given here (e.g. the one Prolific shows you)."""

    mode: Literal["link", "invite"] = "invite"
    platform: Literal["prolific", "mturk", "generic"] = "generic"
    max_participants: int | None = Field(default=None, ge=1)
    completion_url: str | None = None
    screenout_url: str | None = None
    completion_code: str | None = Field(default=None, pattern=CODE_PATTERN)
    screenout_code: str | None = Field(default=None, pattern=CODE_PATTERN)

    @field_validator("completion_url")
    @classmethod
    def _completion_url(cls, url: str | None) -> str | None:
        return _check_url(url, "completion_url")

    @field_validator("screenout_url")
    @classmethod
    def _screenout_url(cls, url: str | None) -> str | None:
        return _check_url(url, "screenout_url")

    @property
    def pid_param(self) -> str:
        """The URL parameter that carries the participant id on this platform."""
        return PLATFORM_PARAMS[self.platform][0]


class TextSpec(StrictModel):
    """A text shown to raters, from ``file`` (Markdown, relative to the study YAML; read at
    ``study create`` and stored) or given as ``text``. Stored configs hold both."""

    file: str | None = None
    text: str | None = None

    @model_validator(mode="after")
    def _some_text(self) -> TextSpec:
        if self.text is None:
            raise ValueError(
                f"file {self.file!r} was not read: load the study from its YAML file"
                if self.file else "give `file: NAME.md` or `text: ...`"
            )
        if not self.text.strip():
            raise ValueError("the text is empty: write what raters should read")
        return self


class PracticeSpec(StrictModel):
    """Practice items before the study's items: ``n`` drawn from the study's split (items not in the
    study), or the researcher's ``ids``. Raters see the right answer after each; never analysed."""

    n: int = Field(default=0, ge=0)
    ids: list[int] | None = None

    @model_validator(mode="after")
    def _ids(self) -> PracticeSpec:
        if self.ids is not None:
            check_item_ids("practice", self.ids, self.n if "n" in self.model_fields_set else None)
        return self

    @property
    def count(self) -> int:
        return len(self.ids) if self.ids is not None else self.n


class AttentionCheck(StrictModel):
    """An instructional attention check: ``prompt`` tells the rater what to answer, ``answer`` is that
    answer by answer key (e.g. {model_correct: false}). Spread evenly through the items."""

    prompt: str = Field(min_length=1, max_length=2000)
    answer: dict[str, Any] = Field(min_length=1)


# Fields whose ``file:`` is read relative to the study YAML and stored as ``text:``.
TEXT_FILE_FIELDS: tuple[str, ...] = ("consent", "instructions")


def read_text_files(data: dict[str, Any], base_dir: Path) -> dict[str, Any]:
    """``data`` with each TEXT_FILE_FIELDS ``file:`` read (relative to ``base_dir``) into ``text:``."""
    out = dict(data)
    for field in TEXT_FILE_FIELDS:
        spec = out.get(field)
        if not isinstance(spec, Mapping) or not spec.get("file") or spec.get("text") is not None:
            continue
        path = (base_dir / str(spec["file"])).resolve()
        if not path.is_file():
            raise StudyConfigError(
                f"{field}.file: {spec['file']} does not exist (looked at {path}); give the path of a "
                "text or Markdown file relative to the study YAML, or write `text: ...`"
            )
        out[field] = {**spec, "text": path.read_text(encoding="utf-8")}
    return out
