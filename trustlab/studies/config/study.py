"""The study YAML validated into a typed, strict config.

Unknown fields are rejected, and every error names the field at fault and what to write instead, e.g.
``conditons: unknown field; did you mean `conditions`? remove it (known fields: ...)``.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from trustlab.studies.config.base import (
    QUOTE,
    StrictModel,
    StudyConfigError,
    check_item_ids,
    describe_error,
    invalid_config,
    renamed_key,
)
from trustlab.studies.config.conditions import (  # noqa: F401 - re-exported: a study's condition grammar
    COMBO_SEPARATOR,
    KNOWN_METHODS,
    NO_EXPLANATION,
    check_condition,
    condition_methods,
    imported_in,
)
from trustlab.studies.config.recruitment import (
    AttentionCheck,
    PracticeSpec,
    RecruitmentSpec,
    TextSpec,
    read_text_files,
)
from trustlab.studies.config.texts import DEFAULT_TEXTS
from trustlab.wording import suggest

TASKS: tuple[str, ...] = ("verify", "true_label", "trust", "helpfulness", "confidence", "simulate", "comment")
# Tasks whose answer is known for an item, so a gold item can check it.
GOLD_CHECKABLE_TASKS: tuple[str, ...] = ("verify", "true_label", "simulate")
MIN_LIKERT_POINTS, MAX_LIKERT_POINTS = 2, 11


class ItemsSpec(StrictModel):
    """Which items the study shows.

    split: the dataset split to draw from; n: how many (non-gold) items; model_errors: the fraction of
    them the model gets wrong (so that errors are represented; null = no stratification); ids: explicit
    item ids instead of drawing (then n is their number).
    """

    split: str = "test"
    n: int | None = Field(default=60, ge=1)
    model_errors: float | None = Field(default=0.3, ge=0.0, le=1.0)
    ids: list[int] | None = None

    @model_validator(mode="after")
    def _ids_and_n(self) -> ItemsSpec:
        if self.ids is not None:
            check_item_ids("items", self.ids, self.n if "n" in self.model_fields_set else None)
        elif self.n is None:
            raise ValueError("items.n is missing: give the number of items (or list items.ids)")
        return self

    @property
    def count(self) -> int:
        return len(self.ids) if self.ids is not None else int(self.n or 0)


class GoldSpec(StrictModel):
    """Items with known answers (gold); a rater with more than ``max_failures`` failures is excluded
    from the analysis and, in a link study, screened out.

    n: how many gold items the study picks itself (items the model gets right and wrong); ids: the
    researcher's own gold items instead (then n is their number).
    """

    n: int = Field(default=0, ge=0)
    ids: list[int] | None = None
    max_failures: int = Field(default=1, ge=0)

    @model_validator(mode="before")
    @classmethod
    def _n_from_ids(cls, data: Any) -> Any:
        if isinstance(data, Mapping) and data.get("ids") is not None:
            ids = data["ids"]
            if isinstance(ids, list):
                check_item_ids("gold", ids, data.get("n"))
                return {**data, "n": len(ids)}
        return data


# Measures a study may name as its confirmatory (primary) outcome, as named by the analysis
# (trustlab/studies/analysis/estimators.py; a test checks that each is one of its measures).
PRIMARY_MEASURES: tuple[str, ...] = (
    "verification_accuracy",
    "balanced_accuracy",
    "accept_rate_model_right",
    "accept_rate_model_wrong",
    "error_detection_dprime",
    "criterion_c",
    "mean_trust",
    "trust_model_right",
    "trust_model_wrong",
    "trust_auroc",
    "confidence_auroc",
    "simulation_accuracy",
    "true_label_accuracy",
)


class AnalysisSpec(StrictModel):
    """The confirmatory analysis, fixed before the data: one ``primary`` measure tested on the condition
    pairs ``contrasts`` ([a, b] means a - b; null: each condition against none, else every pair), with
    Holm's correction at family-wise ``alpha``. Every other result is reported as exploratory."""

    primary: str = "verification_accuracy"
    contrasts: list[tuple[str, str]] | None = None
    alpha: float = Field(default=0.05, gt=0.0, lt=0.5)

    @field_validator("primary")
    @classmethod
    def _known_primary(cls, primary: str) -> str:
        if primary not in PRIMARY_MEASURES:
            raise ValueError(
                f"unknown measure {primary!r}; {suggest(primary, PRIMARY_MEASURES, quote=QUOTE)}"
                f"use one of {', '.join(PRIMARY_MEASURES)}"
            )
        return primary

    @field_validator("contrasts")
    @classmethod
    def _distinct_pairs(cls, pairs: list[tuple[str, str]] | None) -> list[tuple[str, str]] | None:
        if pairs is None:
            return None
        if not pairs:
            raise ValueError(
                "contrasts is empty: list pairs such as [[gradcam, none]], or write `contrasts: null`"
            )
        for a, b in pairs:
            if a == b:
                raise ValueError(f"contrast [{a}, {b}] compares a condition with itself: name two conditions")
        if len({frozenset(p) for p in pairs}) != len(pairs):
            raise ValueError("a contrast is listed twice: list each pair of conditions once")
        return pairs


class DisplaySpec(StrictModel):
    """Heatmaps' ``colormap``: viridis (perceptually uniform, colour-blind safe) or jet as in a paper.
    explain.render.COLORMAPS lists the same names (a test checks)."""

    colormap: Literal["viridis", "cividis", "jet"] = "viridis"


class StudyConfig(StrictModel):
    """A validated study (docs/studies.md's study YAML, field by field)."""

    name: str = Field(min_length=1, max_length=200)
    dataset: str = Field(min_length=1)
    model: str = Field(min_length=1)
    items: ItemsSpec = ItemsSpec()
    conditions: list[str] = Field(min_length=1)
    design: Literal["within", "between"] = "within"
    raters_per_item: int = Field(default=5, ge=1)
    items_per_rater: int = Field(default=40, ge=1)
    tasks: list[
        Literal["verify", "true_label", "trust", "helpfulness", "confidence", "simulate", "comment"]
    ] = Field(default_factory=lambda: ["verify", "trust"], min_length=1)
    likert_points: int = Field(default=7, ge=MIN_LIKERT_POINTS, le=MAX_LIKERT_POINTS)
    show_prediction: bool = True
    # Condition hiding: raters are not told which condition (explanation method) they see, so that a
    # method's name cannot sway their judgement. Its old YAML name `blind_condition` is still read.
    hide_condition: bool = True
    gold: GoldSpec = GoldSpec()
    seed: int = 0
    # Minutes of inactivity after which a rater's unfinished assignments are released to others.
    timeout_minutes: float | None = Field(default=60.0, gt=0)
    # The confirmatory analysis (primary measure, contrasts, alpha); see AnalysisSpec.
    analysis: AnalysisSpec = AnalysisSpec()
    # Recruitment (how raters arrive; a link study's public link), consent, instructions, practice,
    # attention checks, a session time limit and the rater-facing texts.
    recruitment: RecruitmentSpec = RecruitmentSpec()
    consent: TextSpec | None = None
    instructions: TextSpec | None = None
    practice: PracticeSpec = PracticeSpec()
    attention: list[AttentionCheck] = Field(default_factory=list)
    max_minutes: float | None = Field(default=None, gt=0)
    texts: dict[str, str] = Field(default_factory=dict)
    display: DisplaySpec = DisplaySpec()  # how raters see explanations

    @model_validator(mode="before")
    @classmethod
    def _old_names(cls, data: Any) -> Any:
        return renamed_key(data, old="blind_condition", new="hide_condition")

    @field_validator("texts")
    @classmethod
    def _known_texts(cls, texts: dict[str, str]) -> dict[str, str]:
        for key in texts:
            if key not in DEFAULT_TEXTS:
                raise ValueError(
                    f"texts.{key}: unknown text; {suggest(key, DEFAULT_TEXTS)}"
                    f"known texts: {', '.join(DEFAULT_TEXTS)}"
                )
        return texts
    # Methods imported with `trustlab explanations import` that conditions name (besides the
    # catalogue's); `study create` fills it in from the database (see load_study_config).
    imported_methods: list[str] = Field(default_factory=list)

    @field_validator("conditions")
    @classmethod
    def _known_conditions(cls, conditions: list[str], info: ValidationInfo) -> list[str]:
        imported = (info.context or {}).get("imported_methods", ())
        for condition in conditions:
            check_condition(condition, imported=imported)
        if len(set(conditions)) != len(conditions):
            raise ValueError("a condition is listed twice: list each condition once")
        return conditions

    @field_validator("tasks")
    @classmethod
    def _unique_tasks(cls, tasks: list[str]) -> list[str]:
        if len(set(tasks)) != len(tasks):
            raise ValueError("a task is listed twice: list each task once")
        return tasks

    @model_validator(mode="after")
    def _consistent(self) -> StudyConfig:
        if self.items_per_rater > self.items.count:
            raise ValueError(
                f"items_per_rater ({self.items_per_rater}) is larger than the study's items "
                f"({self.items.count}): lower items_per_rater or raise items.n"
            )
        if self.gold.n > 0 and not set(self.tasks) & set(GOLD_CHECKABLE_TASKS):
            raise ValueError(
                "gold.n > 0 but no task has a known answer to check: add one of "
                f"{', '.join(GOLD_CHECKABLE_TASKS)} to tasks, or set gold.n: 0"
            )
        if self.gold.max_failures > self.gold.n and self.gold.n > 0:
            raise ValueError(
                f"gold.max_failures ({self.gold.max_failures}) exceeds gold.n ({self.gold.n}): "
                "no rater could ever be excluded; lower max_failures"
            )
        return self

    @model_validator(mode="after")
    def _no_leaks(self) -> StudyConfig:
        # Simulating the model is trivial with its prediction on screen; the rater app also hides
        # every other trace of the predicted class when show_prediction is false.
        if "simulate" in self.tasks and self.show_prediction:
            raise ValueError(
                "tasks lists `simulate` but show_prediction is true: raters would copy the prediction "
                "on screen; set `show_prediction: false`, or drop simulate from tasks (a verify study "
                "shows the prediction, a simulate study hides it)"
            )
        return self

    @property
    def methods(self) -> list[str]:
        """The distinct explanation methods the conditions need, in first-use order."""
        out: list[str] = []
        for condition in self.conditions:
            for method in condition_methods(condition):
                if method not in out:
                    out.append(method)
        return out

    @property
    def per_rater_total(self) -> int:
        """Assignments a rater gets: items_per_rater regular items plus gold.n gold items."""
        return self.items_per_rater + self.gold.n

    @model_validator(mode="after")
    def _analysis_conditions(self) -> StudyConfig:
        for pair in self.analysis.contrasts or []:
            unknown = [c for c in pair if c not in self.conditions]
            if unknown:
                raise ValueError(
                    f"analysis.contrasts names {', '.join(map(repr, unknown))}, which is not among the "
                    f"study's conditions ({', '.join(self.conditions)}): use those names"
                )
        return self


# The model of each top-level field that is itself a model, to name an unknown nested field's siblings.
_PARTS: dict[str, type[BaseModel]] = {
    "items": ItemsSpec, "gold": GoldSpec, "analysis": AnalysisSpec, "recruitment": RecruitmentSpec,
    "consent": TextSpec, "instructions": TextSpec, "practice": PracticeSpec, "attention": AttentionCheck,
    "display": DisplaySpec,
}
_NOTES = {"tasks": f" (tasks are {', '.join(TASKS)})"}


def load_study_config(
    path_or_dict: str | Path | Mapping[str, Any] | StudyConfig,
    *,
    base_dir: str | Path | None = None,
    imported_methods: Collection[str] | None = None,
) -> StudyConfig:
    """Read and validate a study config from a YAML file path or a dict.

    ``consent.file`` and ``instructions.file`` are read relative to the YAML file (for a dict:
    ``base_dir``, else the working directory) into their ``text``, so the stored config holds them.

    imported_methods: the names of every imported explanation method (from the database, at `study
    create`): conditions may name them, and those named are recorded in the config's
    ``imported_methods`` (so the stored config validates again without the database). Without it, a
    condition may name the catalogue's methods and those the config lists in ``imported_methods``.

    Raises
    ------
    StudyConfigError
        The file is missing or not YAML, or a field is invalid; one line per problem, each naming the
        field (dotted, e.g. ``gold.max_failures``) and the fix.
    """
    if isinstance(path_or_dict, StudyConfig):
        return path_or_dict
    source = "config"
    base = Path(base_dir) if base_dir is not None else Path.cwd()
    if isinstance(path_or_dict, (str, Path)):
        path = Path(path_or_dict)
        base = path.resolve().parent
        source = str(path)
        if not path.is_file():
            raise StudyConfigError(f"study config {path} does not exist: give the path of a study YAML file")
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            raise StudyConfigError(f"{path} is not valid YAML: {exc}") from exc
    else:
        data = dict(path_or_dict)
    if not isinstance(data, Mapping):
        raise StudyConfigError(
            f"{source}: expected a mapping of fields (name:, dataset:, ...), got {type(data).__name__}"
        )
    data = read_text_files(dict(data), base)
    if imported_methods is not None:
        data["imported_methods"] = imported_in(data, imported_methods, source)
    try:
        known = imported_methods if imported_methods is not None else data.get("imported_methods") or ()
        context = {"imported_methods": tuple(known)}
        return StudyConfig.model_validate(data, context=context)
    except ValidationError as exc:
        lines = [describe_error(error, StudyConfig, _PARTS, _NOTES) for error in exc.errors()]
        raise invalid_config(source, lines) from None

