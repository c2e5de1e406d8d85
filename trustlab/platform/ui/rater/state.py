"""What the rating page remembers for one browser tab between events (its ``gr.State``, kept on the
server, never sent to the browser): the rater's token, the study, and what is on screen now, so that
Submit knows what it answers and a double Enter stores one judgement.

The value is frozen: a handler makes the next screen's value with ``dataclasses.replace`` (or a new
``RaterState``) and returns it, so the value an event was given is never altered behind Gradio's back.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

# What Submit answers: a study item, a link study's practice item or attention check, the feedback
# after a practice answer (Submit then means Continue), or nothing ("": a notice, a wait, an ending).
Mode = Literal["", "item", "practice", "attention", "feedback"]


@dataclass(frozen=True)
class RaterState:
    """One tab's rating page state; the defaults are a page with nobody signed in."""

    token: str | None = None  # the rater's bearer token
    study: str = ""  # the study's name
    # A participant who came through a link study's public link (not by invite): they can reopen
    # the instructions, and signing out sends them back through the recruiting platform.
    link: bool = False
    intro_seen: bool = False  # a participant past the first instructions (the steps screens set it)
    # The consent on screen is this study's (the browser keeps the link's parameters until then).
    consent_study: str = ""
    # The instructions on screen come before the first step: their button is Start, not Back.
    first_instructions: bool = False
    mode: Mode = ""
    assignment_id: int | None = None  # the study item on screen
    # One key per shown item: a double Enter stores one judgement, not two.
    idempotency_key: str = ""
    shown_at: float | None = None  # time.monotonic() when the item was shown (the answer's elapsed time)
    question_keys: tuple[str, ...] = ()  # the answers this screen asks for
    question_labels: Mapping[str, str] = field(default_factory=dict)  # for "Please answer: <label>"
    questions: tuple[dict, ...] = ()  # a practice item's or attention check's questions
    step_index: int = 0  # which practice item or attention check is on screen
    # The item screen's layout fingerprint (``view.screen_shell``): the same layout, fewer updates.
    shell: str = ""
    pending: bool = False  # an explanation is still being computed: nothing can be answered yet
    finished: bool = False  # an ending is on screen (completion code, screen-out, timed out)

    def carried(self) -> RaterState:
        """What every next screen's state keeps: who is signed in and how they came."""
        return RaterState(token=self.token, link=self.link, intro_seen=self.intro_seen)
