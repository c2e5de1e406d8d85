"""Questions per study and answer validation (used by the app and the REST API)."""

from __future__ import annotations

import pytest

from trustlab.studies.config.study import load_study_config
from trustlab.studies.questions import _KINDS as KINDS
from trustlab.studies.questions import (
    TASK_ANSWER,
    AnswerError,
    gold_failures,
    questions_for,
    validate_answers,
)

CLASSES = ["car", "phone"]


def config(tasks, likert=5):
    return load_study_config(
        {
            "name": "q",
            "dataset": "d",
            "model": "m",
            "conditions": ["none"],
            "tasks": tasks,
            "likert_points": likert,
            "items_per_rater": 1,
            "items": {"n": 1},
            "show_prediction": "simulate" not in tasks,
        }
    )


def test_every_task_has_a_question_and_answer_key():
    cfg = config(list(TASK_ANSWER))
    questions = questions_for(cfg, CLASSES)
    assert [q["key"] for q in questions] == [*TASK_ANSWER.values(), "cant_tell"]
    assert set(KINDS) == set(TASK_ANSWER)
    by_key = {q["key"]: q for q in questions}
    assert by_key["true_label"]["options"] == CLASSES and by_key["simulated_label"]["kind"] == "choice"
    assert (by_key["trust"]["min"], by_key["trust"]["max"]) == (1, 5)
    assert by_key["comment"]["required"] is False


def test_valid_answers_are_cleaned():
    cfg = config(["verify", "true_label", "trust", "comment"])
    out = validate_answers(cfg, {"model_correct": False, "true_label": "car", "trust": 3.0}, CLASSES)
    assert out == {"model_correct": False, "true_label": "car", "trust": 3, "cant_tell": False}
    assert isinstance(out["trust"], int)


@pytest.mark.parametrize(
    ("answers", "field"),
    [
        ({"model_correct": 1, "trust": 3}, "model_correct"),
        ({"model_correct": True, "trust": 6}, "trust"),
        ({"model_correct": True, "trust": True}, "trust"),
        ({"model_correct": True, "trust": 2.5}, "trust"),
        ({"model_correct": True, "trust": 3, "helpfulness": 3}, "helpfulness"),
        ({"model_correct": True}, "trust"),
        ({"model_correct": True, "trust": 2, "cant_tell": "yes"}, "cant_tell"),
    ],
)
def test_invalid_answers_name_the_field(answers, field):
    with pytest.raises(AnswerError) as info:
        validate_answers(config(["verify", "trust"]), answers, CLASSES)
    assert info.value.field == field and field in str(info.value)


def test_cant_tell_allows_missing_answers_and_choices_are_checked():
    cfg = config(["verify", "simulate"])
    assert validate_answers(cfg, {"cant_tell": True}, CLASSES) == {"cant_tell": True}
    with pytest.raises(AnswerError, match="simulated_label"):
        validate_answers(cfg, {"model_correct": True, "simulated_label": "truck"}, CLASSES)
    with pytest.raises(AnswerError, match="comment"):
        validate_answers(config(["comment"]), {"comment": "x" * 5000}, CLASSES)


def test_gold_failures():
    gold = {"model_correct": False, "true_label": "car"}
    assert gold_failures(gold, {"model_correct": False, "true_label": "car"}) == []
    assert gold_failures(gold, {"model_correct": True, "true_label": "car"}) == ["model_correct"]
    assert gold_failures(gold, {"cant_tell": True}) == ["model_correct", "true_label"]
    assert gold_failures(None, {}) == []


def test_no_helpfulness_question_without_an_explanation():
    """Under the `none` condition nothing is shown to be helpful: the question is not asked, and an
    answer without it is complete."""
    cfg = config(["verify", "helpfulness"])
    keys = [q["key"] for q in questions_for(cfg, CLASSES, condition="none")]
    assert "helpfulness" not in keys and "model_correct" in keys
    assert "helpfulness" in [q["key"] for q in questions_for(cfg, CLASSES, condition="gradcam")]
    assert validate_answers(cfg, {"model_correct": True}, CLASSES, condition="none")["model_correct"] is True
    with pytest.raises(AnswerError, match="required"):
        validate_answers(cfg, {"model_correct": True}, CLASSES, condition="gradcam")
    with pytest.raises(AnswerError, match="not a question"):
        validate_answers(cfg, {"model_correct": True, "helpfulness": 3}, CLASSES, condition="none")
