"""The public study link's entry handlers without a browser: a reload before consent comes
back to the consent (the link waits in the browser's stored value; the server stores nothing), a
reload on the first instructions shows them again until Start; a placeholder link says what
happened; headings are not doubled; a participant's sign-out sends them back through the platform."""

from __future__ import annotations

import gradio as gr
import pytest
from sqlalchemy import func, select

from tests.helpers.recruit_world import add_link_study, link_config
from trustlab.db.engine import read_session
from trustlab.db.schema import Participant, User
from trustlab.platform.services.rater import Services
from trustlab.platform.ui.rater import entry as ui_entry
from trustlab.platform.ui.rater.access import rater_storage, sign_out
from trustlab.platform.ui.rater.page import build_rater_tab

LINK = {"study": "crowd", "PROLIFIC_PID": "P005", "STUDY_ID": "s", "SESSION_ID": "x"}


@pytest.fixture
def entry(world):
    add_link_study(world, link_config(practice={"n": 1}))
    services = Services(world.settings)
    with gr.Blocks():
        view = build_rater_tab(services, rater_storage())
    return world, services, view


def shown(view, out: list, component) -> bool:
    update = out[view.outputs.index(component)]
    return isinstance(update, dict) and update.get("visible") is True


def value(view, out: list, component):
    update = out[view.outputs.index(component)]
    return update.get("value") if isinstance(update, dict) else update


def people(settings) -> int:
    with read_session(settings) as s:
        return int(s.scalar(select(func.count()).select_from(Participant))) + int(
            s.scalar(select(func.count()).select_from(User))
        )


def test_reload_before_consent_and_on_the_first_instructions_comes_back(entry):
    world, services, view = entry
    stored, out, signed_in = ui_entry.link_sign_in(services, view, {}, LINK)
    assert shown(view, out, view.consent) and not signed_in
    assert stored["join"] == {"study": "crowd", "params": {k: v for k, v in LINK.items() if k != "study"}}
    assert people(world.settings) == 0  # kept in the browser only
    # The reload: the address bar has only ?study= now; the browser's stored link brings consent back.
    stored, out, _ = ui_entry.link_sign_in(services, view, stored, {"study": "crowd"})
    assert shown(view, out, view.consent) and people(world.settings) == 0
    state = out[view.outputs.index(view.state)]
    stored, out, signed_in = ui_entry.accept_consent(services, view, stored, state)
    assert signed_in and "join" not in stored and shown(view, out, view.intro)
    with read_session(world.settings) as s:
        participant = s.scalars(select(Participant)).one()
        assert (participant.pid, participant.params) == ("P005", {"STUDY_ID": "s", "SESSION_ID": "x"})
    # A reload on the first instructions shows them again, with Start (not skipped).
    again, out, _ = ui_entry.link_sign_in(services, view, stored, {"study": "crowd"})
    assert again == stored and shown(view, out, view.intro) and value(view, out, view.intro_close) == "Start"
    # The same participant reopening the platform's link before Start: the instructions too.
    _, out, _ = ui_entry.link_sign_in(services, view, {**stored, "token": None}, LINK)
    assert shown(view, out, view.intro)
    state = out[view.outputs.index(view.state)]
    stored, out = ui_entry.close_instructions(services, view, stored, state)
    assert "intro" not in stored and stored["token"] and shown(view, out, view.panel)
    _, out, _ = ui_entry.link_sign_in(services, view, stored, {"study": "crowd"})
    assert shown(view, out, view.panel) and not shown(view, out, view.intro)
    assert value(view, out, view.stage).count('data-assignment="practice-0"') == 1


def test_declining_forgets_the_link_in_the_browser(entry):
    world, services, view = entry
    stored, out, _ = ui_entry.link_sign_in(services, view, {}, LINK)
    state = out[view.outputs.index(view.state)]
    stored, out, _ = ui_entry.decline_consent(services, view, stored, state)
    assert "join" not in stored and people(world.settings) == 0
    _, out, _ = ui_entry.link_sign_in(services, view, stored, {"study": "crowd"})
    assert "missing your participant id" in value(view, out, view.notice)


def test_a_placeholder_link_tells_the_researcher_what_happened(entry):
    world, services, view = entry
    printed = {**LINK, "PROLIFIC_PID": "{{%PROLIFIC_PID%}}", "STUDY_ID": "{{%STUDY_ID%}}"}
    stored, out, signed_in = ui_entry.link_sign_in(services, view, {}, printed)
    notice = value(view, out, view.notice)
    assert not signed_in and not shown(view, out, view.consent) and "join" not in stored
    assert "This link was opened directly" in notice and "preview" in notice
    assert people(world.settings) == 0


def test_headings_are_not_doubled():
    assert ui_entry.titled("Consent", "You agree.") == "## Consent\n\nYou agree."
    own = "# Consent to take part\n\nYou agree."
    assert ui_entry.titled("Consent", own) == own
    assert ui_entry.titled("Consent", "\n## Before you start\nText") == "\n## Before you start\nText"
    assert ui_entry.titled("Instructions", "How to rate\n===========\n\nText").startswith("How to rate")


def test_a_participant_signing_out_is_sent_back_through_the_platform(entry):
    world, services, view = entry
    stored, out, _ = ui_entry.link_sign_in(services, view, {}, LINK)
    stored, out, _ = ui_entry.accept_consent(services, view, stored, out[view.outputs.index(view.state)])
    state = out[view.outputs.index(view.state)]
    out = sign_out(services, view, stored, state)
    text = out[1 + view.outputs.index(view.notice)]["value"]
    assert out[0] == {} and "Signed out" in text
    assert "Prolific" in text and "invite" not in text
