"""Synthetic raters' answer model: how a simulated rater answers an item, given its truth and
the condition it is shown in.

``RaterProfile`` + ``SimulatedRater.answer`` are a pure function from what a rater sees to their
answers, with condition-dependent probabilities; ``study_truth`` and ``assignment_conditions`` read
what the model needs from the database (the true label and the condition, which a rater is never
shown). No HTTP here: the driver that takes these raters through the REST API is
``trustlab.platform.client.driver`` (the platform owns its wire protocol).

Probabilities are on the probability scale and additive: a rater verifies a prediction correctly with
``verify_model_right`` (+ the condition's ``model_right`` boost + the rater's and the item's offsets)
when the model is right, and ``verify_model_wrong`` (+ boost + offsets) when it is wrong, clipped to
[0.01, 0.99]. So a boost of 0.2 on both is a planted +20-point effect on verification accuracy.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from trustlab.config import Settings
from trustlab.db.engine import read_session
from trustlab.db.queries.assignments import assignment_condition
from trustlab.db.queries.items import item_labels
from trustlab.db.queries.predictions import predictions_for_items
from trustlab.db.queries.studies import get_study, study_items
from trustlab.studies.config.study import NO_EXPLANATION, condition_methods
from trustlab.studies.questions import CANT_TELL, TASK_ANSWER

# The answer keys the simulated rater fills in, by task (one home: studies.questions).
VERIFY, TRUE_LABEL, SIMULATE, TRUST, HELPFULNESS, CONFIDENCE, COMMENT = (
    TASK_ANSWER[task]
    for task in ("verify", "true_label", "simulate", "trust", "helpfulness", "confidence", "comment")
)

P_MIN, P_MAX = 0.01, 0.99


class SimulationError(RuntimeError):
    """The simulator cannot run (bad profile, server refused a call); the message says what to fix."""


class Boost(BaseModel):
    """Additive changes (probability points, e.g. 0.15) that a condition's explanation brings."""

    model_config = ConfigDict(extra="forbid")
    model_right: float = 0.0  # verifying right predictions (accepting them)
    model_wrong: float = 0.0  # verifying wrong predictions (detecting the error)
    true_label: float = 0.0
    simulate: float = 0.0
    trust_shift: float = 0.0  # on the 0..1 trust scale


class RaterProfile(BaseModel):
    """How synthetic raters answer. Trust, helpfulness and confidence are on a 0..1 scale, mapped to
    the study's Likert points."""

    model_config = ConfigDict(extra="forbid")
    verify_model_right: float = Field(0.85, ge=0, le=1)
    verify_model_wrong: float = Field(0.35, ge=0, le=1)
    true_label_accuracy: float = Field(0.9, ge=0, le=1)
    simulate_accuracy: float = Field(0.5, ge=0, le=1)
    conditions: dict[str, Boost] = Field(
        default_factory=lambda: {"gradcam": Boost(model_wrong=0.15), "twin": Boost(model_wrong=0.25)}
    )
    trust_if_accept: float = Field(0.75, ge=0, le=1)
    trust_if_reject: float = Field(0.3, ge=0, le=1)
    trust_sd: float = Field(0.12, ge=0)
    helpfulness_mean: float = Field(0.55, ge=0, le=1)
    helpfulness_sd: float = Field(0.2, ge=0)
    rater_sd: float = Field(0.05, ge=0)  # per-rater offset on every probability
    item_sd: float = Field(0.05, ge=0)  # per-item offset on every probability
    careless_share: float = Field(0.1, ge=0, le=1)  # raters who answer at random (and fail gold items)
    gold_accuracy: float = Field(0.97, ge=0, le=1)  # careful raters on gold items
    cant_tell_rate: float = Field(0.02, ge=0, le=1)
    response_ms_median: float = Field(4000.0, gt=0)
    response_ms_sigma: float = Field(0.5, ge=0)  # log-normal spread
    comment_rate: float = Field(0.05, ge=0, le=1)

    def boost(self, condition: str) -> Boost:
        """The condition's boost: its own entry, else the strongest of its methods' entries."""
        if condition in self.conditions:
            return self.conditions[condition]
        parts = [self.conditions[m] for m in condition_methods(condition) if m in self.conditions]
        if not parts:
            return Boost()
        return Boost(**{k: max(getattr(b, k) for b in parts) for k in Boost.model_fields})


def load_profile(source: str | Path | Mapping[str, Any] | RaterProfile | None) -> RaterProfile:
    """A profile from a YAML file, a dict, or the defaults (None)."""
    if source is None:
        return RaterProfile()
    if isinstance(source, RaterProfile):
        return source
    data = source
    if isinstance(source, (str, Path)):
        path = Path(source)
        if not path.is_file():
            raise SimulationError(f"profile {path} does not exist: give a rater profile YAML file")
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    try:
        return RaterProfile.model_validate(dict(data))
    except ValidationError as exc:
        lines = [f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()]
        raise SimulationError("invalid rater profile:\n  " + "\n  ".join(lines)) from None


@dataclass(frozen=True)
class ItemTruth:
    true_label: str
    predicted_label: str
    is_gold: bool = False


def _likert(rng: np.random.Generator, mean01: float, sd: float, points: int) -> int:
    value = rng.normal(mean01, sd)
    return int(np.clip(round(1 + float(np.clip(value, 0, 1)) * (points - 1)), 1, points))


def _item_offset(seed: int, item_id: int, sd: float) -> float:
    return float(np.random.default_rng([seed, item_id, 7]).normal(0, sd)) if sd else 0.0


@dataclass
class SimulatedRater:
    """One synthetic rater: careless or careful, with a seeded ability offset."""

    profile: RaterProfile
    rng: np.random.Generator
    seed: int = 0
    careless: bool = False
    offset: float = 0.0

    @classmethod
    def make(cls, profile: RaterProfile, *, seed: int, index: int) -> SimulatedRater:
        rng = np.random.default_rng([seed, index])
        careless = bool(rng.random() < profile.careless_share)
        offset = float(rng.normal(0, profile.rater_sd)) if profile.rater_sd else 0.0
        return cls(profile, rng, seed, careless, offset)

    def _p(self, base: float, item_id: int) -> float:
        return float(
            np.clip(base + self.offset + _item_offset(self.seed, item_id, self.profile.item_sd), P_MIN, P_MAX)
        )

    def answer(
        self,
        *,
        item_id: int,
        condition: str,
        truth: ItemTruth,
        questions: Sequence[Mapping[str, Any]],
        classes: Sequence[str],
    ) -> tuple[dict[str, Any], float]:
        """(answers for the study's questions, client elapsed ms)."""
        p, rng = self.profile, self.rng
        keys = {q["key"] for q in questions}
        likert_max = next((int(q["max"]) for q in questions if q["kind"] == "likert"), 7)
        elapsed = float(p.response_ms_median * np.exp(rng.normal(0, p.response_ms_sigma)))
        if self.careless:
            elapsed *= 0.3
        if not self.careless and not truth.is_gold and rng.random() < p.cant_tell_rate:
            return {CANT_TELL: True}, elapsed
        boost = p.boost(condition)
        # A careful rater gets a gold item fully right with probability gold_accuracy (no
        # rater or item offsets: gold items are chosen to be clear); otherwise they answer it as usual.
        sure = truth.is_gold and not self.careless and rng.random() < p.gold_accuracy
        answers = self._label_answers(
            keys, item_id=item_id, truth=truth, classes=classes, boost=boost, sure=sure
        )
        accepted = answers.get(VERIFY, truth.true_label == truth.predicted_label)
        answers.update(
            self._ratings(keys, condition=condition, accepted=accepted, boost=boost, likert_max=likert_max)
        )
        answers[CANT_TELL] = False
        return answers, elapsed

    def _label_answers(
        self, keys: set[str], *, item_id: int, truth: ItemTruth, classes: Sequence[str], boost: Boost,
        sure: bool,
    ) -> dict[str, Any]:
        """The answers that can be right or wrong: the verdict on the prediction, the true label, and
        the model's prediction (simulate)."""
        p, rng = self.profile, self.rng
        model_correct = truth.true_label == truth.predicted_label
        answers: dict[str, Any] = {}
        if VERIFY in keys:
            if self.careless:
                answers[VERIFY] = bool(rng.random() < 0.5)
            else:
                base = (
                    (p.verify_model_right + boost.model_right)
                    if model_correct
                    else (p.verify_model_wrong + boost.model_wrong)
                )
                right = sure or rng.random() < self._p(base, item_id)
                answers[VERIFY] = bool(model_correct if right else not model_correct)
        others = [c for c in classes if c != truth.true_label] or list(classes)
        if TRUE_LABEL in keys:
            base = p.true_label_accuracy + boost.true_label
            good = sure or (not self.careless and rng.random() < self._p(base, item_id))
            answers[TRUE_LABEL] = (
                truth.true_label if good else str(rng.choice(others if not self.careless else list(classes)))
            )
        if SIMULATE in keys:
            base = p.simulate_accuracy + boost.simulate
            good = sure or (not self.careless and rng.random() < self._p(base, item_id))
            wrong = [c for c in classes if c != truth.predicted_label] or list(classes)
            answers[SIMULATE] = truth.predicted_label if good else str(rng.choice(wrong))
        return answers

    def _ratings(
        self, keys: set[str], *, condition: str, accepted: bool, boost: Boost, likert_max: int
    ) -> dict[str, Any]:
        """The Likert answers (trust follows the verdict, helpfulness the condition) and a comment."""
        p, rng = self.profile, self.rng
        answers: dict[str, Any] = {}
        if TRUST in keys:
            mean = (p.trust_if_accept if accepted else p.trust_if_reject) + boost.trust_shift
            answers[TRUST] = (
                int(rng.integers(1, likert_max + 1))
                if self.careless
                else _likert(rng, mean, p.trust_sd, likert_max)
            )
        if HELPFULNESS in keys:
            answers[HELPFULNESS] = _likert(
                rng, p.helpfulness_mean if condition != NO_EXPLANATION else 0.3, p.helpfulness_sd, likert_max
            )
        if CONFIDENCE in keys:
            answers[CONFIDENCE] = _likert(rng, 0.7, 0.15, likert_max)
        if COMMENT in keys and rng.random() < p.comment_rate:
            answers[COMMENT] = "simulated comment"
        return answers


def study_truth(settings: Settings, study: str) -> tuple[dict[int, ItemTruth], list[str]]:
    """({item_id: ItemTruth}, class names) of a study's items, for the simulator's answer model."""
    from trustlab.db.queries.labels import class_names

    with read_session(settings) as session:
        row = get_study(session, name=study)
        items = study_items(session, study_id=row.id)
        predictions = predictions_for_items(
            session, model_version_id=row.model_version_id, item_ids=[si.item_id for si in items]
        )
        labels = item_labels(session, item_ids=[si.item_id for si in items if si.label is None])
        truth = {  # the study's frozen truth (studies created before labels froze: the label now)
            si.item_id: ItemTruth(
                si.label or labels[si.item_id], predictions[si.item_id].predicted_label, si.is_gold
            )
            for si in items
            if si.item_id in predictions
        }
        return truth, class_names(session, dataset_id=row.dataset_id)


def assignment_conditions(settings: Settings) -> Callable[[int], str]:
    """assignment id -> condition, read from the database (the simulator knows what condition hiding
    keeps from raters)."""

    def lookup(assignment_id: int) -> str:
        with read_session(settings) as session:
            return assignment_condition(session, assignment_id=assignment_id)

    return lookup

