"""Every rater-facing string of a link study's flow, in one dict.

A study's ``texts:`` overrides any of them (e.g. in another language); ``config.TextsSpec`` rejects keys
that are not here, so a typo never silently leaves an English string on a German screen. Torch-,
gradio- and sqlalchemy-free: the config, the rater UI and the tests all read it.

``{placeholders}`` are filled with ``str.format`` by the screen that shows the text.
"""

from __future__ import annotations

from collections.abc import Mapping

DEFAULT_TEXTS: dict[str, str] = {
    # consent
    "consent_title": "Consent",
    "consent_accept": "I agree to take part",
    "consent_decline": "I do not agree",
    "consent_required": "Please read the consent information and agree before you start.",
    # instructions
    "instructions_title": "Instructions",
    "instructions_open": "Instructions",
    "instructions_close": "Back to the task",
    "start": "Start",
    # practice
    "practice_title": "Practice item {n} of {total}",
    "practice_intro": "This is a practice item: your answer is not part of the study.",
    # feedback: {answer} is each question's right answer in words, joined by "; "
    "practice_correct": "Correct: {answer}.",
    "practice_wrong": "Not quite: {answer}.",
    "practice_model_right": "the model's prediction was right",
    "practice_model_wrong": "the model's prediction was wrong",
    "practice_true_label": "the right class is {label}",
    "practice_predicted_label": "the model predicted {label}",
    "practice_no_answer": "This practice item has no single right answer.",
    "practice_next": "Continue",
    # attention checks
    "attention_title": "Please read carefully",
    # items
    "submit": "Submit",
    "progress": "Item {done} of {total}",
    "loading": "Loading the next item…",
    # endings
    "finished_title": "Thank you!",
    "finished_body": "You have finished the study. Your completion code is {code}.",
    "redirecting": "Taking you back to {platform}…",
    "redirect_link": "Continue to {platform}",
    "screened_out_title": "Thank you for your time",
    "screened_out_body": "You cannot continue with this study.",
    "declined_body": "You chose not to take part. Nothing you did here was stored.",
    "timed_out_title": "Time is up",
    "timed_out_body": "The time for this study ({minutes} minutes) has passed, so it has ended.",
    "returned_body": "You have returned this study.",
    "full_title": "This study is full",
    "full_body": "All places in this study have been taken. Thank you for your interest.",
    "closed_body": "This study has closed and takes no more answers. Thank you.",
    "missing_pid": "This link is missing your participant id; please open the study from {platform}.",
    "placeholder_title": "This link was opened directly",
    "signed_out_title": "Signed out",
    "signed_out_body": (
        "You have signed out and this browser forgot your session. To continue, open the study again "
        "from {platform}: you will come back to where you stopped."
    ),
}


def rater_texts(overrides: Mapping[str, str] | None = None) -> dict[str, str]:
    """The defaults with a study's ``texts:`` overrides applied (keys already validated)."""
    return {**DEFAULT_TEXTS, **dict(overrides or {})}
