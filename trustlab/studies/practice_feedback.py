"""What a practice item's feedback says: the right answer to each question, in words
("the model's prediction was wrong; the right class is disc"), never the questions' texts glued to raw
values. The wording is the study's texts (``texts.DEFAULT_TEXTS``' ``practice_*`` keys)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from trustlab.studies.questions import TASK_ANSWER

ANSWER_SEPARATOR = "; "


def right_answer_words(texts: Mapping[str, str], right_answers: Mapping[str, Any]) -> list[str]:
    """Each right answer as a phrase, in the order given (``recruitment.known_answers``' keys)."""
    phrases = []
    for key, value in right_answers.items():
        if key == TASK_ANSWER["verify"]:
            phrases.append(texts["practice_model_right" if value else "practice_model_wrong"])
        elif key == TASK_ANSWER["true_label"]:
            phrases.append(texts["practice_true_label"].format(label=value))
        elif key == TASK_ANSWER["simulate"]:
            phrases.append(texts["practice_predicted_label"].format(label=value))
    return phrases


def practice_feedback(texts: Mapping[str, str], right_answers: Mapping[str, Any], *, correct: bool) -> str:
    """The feedback sentence after a practice answer: whether it was right, then the right answers."""
    phrases = right_answer_words(texts, right_answers)
    if not phrases:
        return texts["practice_no_answer"]
    template = texts["practice_correct" if correct else "practice_wrong"]
    return template.format(answer=ANSWER_SEPARATOR.join(phrases))
