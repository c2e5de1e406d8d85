"""The questions a study asks and the validation of a rater's answers (shared by the app and the API).

Each task of the study config asks one question whose answer is stored under ``TASK_ANSWER[task]`` in
``Judgement.answers``; ``cant_tell`` (bool) is always allowed. When ``cant_tell`` is true the other
answers may be left out; otherwise every task except ``comment`` must be answered.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from trustlab.studies.config.study import NO_EXPLANATION, StudyConfig

# In the order the rater app lays the answers out (its keyboard shortcuts follow that order).
TASK_ANSWER: dict[str, str] = {
    "verify": "model_correct",
    "true_label": "true_label",
    "simulate": "simulated_label",
    "trust": "trust",
    "helpfulness": "helpfulness",
    "confidence": "confidence",
    "comment": "comment",
}
CANT_TELL = "cant_tell"
# Tasks a rater may skip without saying "can't tell".
OPTIONAL_TASKS = frozenset({"comment"})
# Tasks that ask about the explanation itself: not asked where the condition shows none.
EXPLANATION_TASKS = frozenset({"helpfulness"})
MAX_COMMENT_CHARS = 2000

_LABELS: dict[str, str] = {
    "verify": "Is the model's prediction correct?",
    "true_label": "What is really in the image?",
    "trust": "How much do you trust the model's prediction for this image?",
    "helpfulness": "How helpful was the explanation for judging the prediction?",
    "confidence": "How confident are you in your answers?",
    "simulate": "Which class do you think the model predicted?",
    "comment": "Comment (optional)",
}
_KINDS: dict[str, str] = {
    "verify": "bool",
    "true_label": "choice",
    "trust": "likert",
    "helpfulness": "likert",
    "confidence": "likert",
    "simulate": "choice",
    "comment": "text",
}
# Anchors for the ends of each Likert scale, so raters read the scale the same way.
_LIKERT_ANCHORS: dict[str, tuple[str, str]] = {
    "trust": ("not at all", "completely"),
    "helpfulness": ("not helpful", "very helpful"),
    "confidence": ("guessing", "certain"),
}


# The kind of each answer key ("bool", "choice", "likert", "text"), for clients that build widgets.
ANSWER_KIND: dict[str, str] = {TASK_ANSWER[task]: kind for task, kind in _KINDS.items()}


class AnswerError(ValueError):
    """An answer the study's questions do not allow; ``field`` is the answer key at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def questions_for(
    config: StudyConfig, class_names: Sequence[str], *, condition: str | None = None
) -> list[dict[str, Any]]:
    """The questions of a study, in the config's task order, then the always-present "can't tell".

    condition: the assignment's condition; under ``none`` (no explanation shown) the questions about
    the explanation (EXPLANATION_TASKS) are left out, since there is nothing to rate.

    Returns
    -------
    list of dict
        Each {key, kind: "bool"|"choice"|"likert"|"text", label, required, options? (choice: class
        names), min?, max? (likert: 1..likert_points), anchors? (likert: [low, high] words)}.
    """
    out: list[dict[str, Any]] = []
    for task in config.tasks:
        if condition == NO_EXPLANATION and task in EXPLANATION_TASKS:
            continue
        question: dict[str, Any] = {
            "key": TASK_ANSWER[task],
            "task": task,
            "kind": _KINDS[task],
            "label": _LABELS[task],
            "required": task not in OPTIONAL_TASKS,
        }
        if question["kind"] == "choice":
            question["options"] = list(class_names)
        elif question["kind"] == "likert":
            question["min"], question["max"] = 1, config.likert_points
            question["anchors"] = list(_LIKERT_ANCHORS[task])
        out.append(question)
    out.append({"key": CANT_TELL, "task": None, "kind": "bool", "label": "I can't tell", "required": False})
    return out


def _check(question: Mapping[str, Any], value: Any) -> Any:
    key, kind = question["key"], question["kind"]
    if kind == "bool":
        if not isinstance(value, bool):
            raise AnswerError(key, f"expected true or false, got {value!r}")
        return value
    if kind == "choice":
        if not isinstance(value, str) or value not in question["options"]:
            raise AnswerError(
                key, f"{value!r} is not a class of this study; choose one of {question['options']}"
            )
        return value
    if kind == "likert":
        # bool is an int subclass: reject it explicitly; accept 5.0 from JSON clients as 5.
        if isinstance(value, bool) or not isinstance(value, (int, float)) or float(value) != int(value):
            raise AnswerError(
                key, f"expected a whole number {question['min']}..{question['max']}, got {value!r}"
            )
        number = int(value)
        if not question["min"] <= number <= question["max"]:
            raise AnswerError(key, f"{number} is outside the scale {question['min']}..{question['max']}")
        return number
    if not isinstance(value, str):
        raise AnswerError(key, f"expected text, got {type(value).__name__}")
    if len(value) > MAX_COMMENT_CHARS:
        raise AnswerError(key, f"is {len(value)} characters long; the limit is {MAX_COMMENT_CHARS}")
    return value


def validate_answers(
    config: StudyConfig,
    answers: Mapping[str, Any],
    class_names: Sequence[str],
    *,
    condition: str | None = None,
) -> dict[str, Any]:
    """Check a rater's answers against the study's questions and return them cleaned.

    Returns a new dict with only the answered keys (None values dropped, Likert numbers as int) and
    ``cant_tell`` always present as a bool.

    Raises
    ------
    AnswerError
        An unknown key, a value of the wrong kind or out of range, or a required answer missing while
        ``cant_tell`` is not true.
    """
    if not isinstance(answers, Mapping):
        raise AnswerError("answers", f"expected an object of answers, got {type(answers).__name__}")
    by_key = {q["key"]: q for q in questions_for(config, class_names, condition=condition)}
    cleaned: dict[str, Any] = {}
    for key, value in answers.items():
        if key not in by_key:
            raise AnswerError(key, f"is not a question of this study; allowed answers: {', '.join(by_key)}")
        if value is None:
            continue
        cleaned[key] = _check(by_key[key], value)
    cleaned[CANT_TELL] = bool(cleaned.get(CANT_TELL, False))
    if not cleaned[CANT_TELL]:
        for key, question in by_key.items():
            if question["required"] and key not in cleaned:
                raise AnswerError(key, "is required (answer it, or set cant_tell: true)")
    return cleaned


def gold_failures(gold_answers: Mapping[str, Any] | None, answers: Mapping[str, Any] | None) -> list[str]:
    """The gold answer keys a rater got wrong (a missing answer or "can't tell" counts as wrong)."""
    if not gold_answers:
        return []
    answers = answers or {}
    return [key for key, expected in gold_answers.items() if answers.get(key) != expected]
