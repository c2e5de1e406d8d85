"""Practice feedback in words: each question's right answer as a phrase, never the
questions' texts glued to raw values."""

from __future__ import annotations

from trustlab.studies.config.texts import DEFAULT_TEXTS, rater_texts
from trustlab.studies.practice_feedback import practice_feedback
from trustlab.studies.questions import questions_for


def test_a_wrong_answer_gets_the_right_answers_in_words():
    text = practice_feedback(DEFAULT_TEXTS, {"model_correct": False, "true_label": "disc"}, correct=False)
    assert text == "Not quite: the model's prediction was wrong; the right class is disc."


def test_a_right_answer_says_so_and_what_was_right():
    right = {"model_correct": True, "simulated_label": "square"}
    text = practice_feedback(DEFAULT_TEXTS, right, correct=True)
    assert text == "Correct: the model's prediction was right; the model predicted square."


def test_no_question_text_and_no_raw_value_in_the_feedback():
    text = practice_feedback(DEFAULT_TEXTS, {"model_correct": False, "true_label": "disc"}, correct=False)
    assert "?" not in text and "False" not in text and "model_correct" not in text


def test_an_item_without_a_right_answer_and_a_studys_own_wording():
    assert practice_feedback(DEFAULT_TEXTS, {}, correct=True) == DEFAULT_TEXTS["practice_no_answer"]
    german = rater_texts(
        {"practice_wrong": "Leider falsch: {answer}.", "practice_true_label": "richtig ist {label}"}
    )
    said = practice_feedback(german, {"true_label": "disc"}, correct=False)
    assert said == "Leider falsch: richtig ist disc."


def test_every_question_with_a_right_answer_has_its_words():
    class Config:  # the tasks whose answers recruitment.known_answers knows
        tasks = ["verify", "true_label", "simulate"]
        likert_points = 5

    keys = [q["key"] for q in questions_for(Config(), ["a", "b"]) if q["key"] != "cant_tell"]
    right = {"model_correct": True, "true_label": "a", "simulated_label": "b"}
    assert set(keys) == set(right)
    assert practice_feedback(DEFAULT_TEXTS, right, correct=True).count(";") == 2
