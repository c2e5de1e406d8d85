"""The staff operations behind the researcher tab's results and the curator's undo, without a browser:
the analysis and the judgements file follow blinding (refused while blinded, a recorded look while
running, no look once closed), the timer knows what to prepare again, an undo of a reject reopens it."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from tests.helpers.staff_world import add_many_proposals, rate_to_the_end
from trustlab.platform.accounts import auth
from trustlab.platform.errors import Conflict, PlatformError
from trustlab.platform.services import staff
from trustlab.platform.services.rater import Services
from trustlab.platform.ui.staff.results import (
    REFRESH_AFTER_S,
    flow_rows,
    primary_markdown,
    refresh_csvs,
    stale,
)
from trustlab.platform.ui.staff.results import results as research_results
from trustlab.studies.design.create import close_study
from trustlab.studies.monitoring.outcome_blinding import study_blinding, unblind_study


def staff_member(world, handle: str, role: str):
    auth.create_user(world.settings, username=handle, role=role, password=f"{handle}-pw-1234")
    token = auth.login(world.settings, username=handle, password=f"{handle}-pw-1234").token
    return auth.authenticate(world.settings, token)


def looks(world) -> list[tuple[str, str]]:
    return [(look["source"], look["actor"]) for look in study_blinding(world.settings, "alpha")["looks"]]


def test_analysis_and_judgements_follow_blinding_and_record_looks(world):
    services, rita = Services(world.settings), staff_member(world, "rita", "researcher")
    rate_to_the_end(world)
    with pytest.raises(Conflict, match="blinded"):
        staff.study_analysis(services, rita, study="alpha", reason="tab")
    with pytest.raises(Conflict, match="blinded"):
        staff.judgements_csv_to_hand_over(services, rita, study="alpha")
    assert looks(world) == []  # refusals record nothing
    shown = research_results(services, rita, "alpha", None)
    assert not shown.downloads["judgements"] and not shown.downloads["report"] and not shown.can_look

    unblind_study(world.settings, "alpha", actor="pi", reason="interim")
    shown = research_results(services, rita, "alpha", None)  # choosing the study is no look
    assert shown.can_look and shown.downloads["judgements"] and not shown.downloads["report"]
    assert looks(world) == [("unblind", "pi")]
    looked = research_results(services, rita, "alpha", shown.exported, look=True)
    assert "Primary result" in looked.analysis and looked.downloads["report"] and looked.flow
    assert looks(world) == [("unblind", "pi"), ("analyze", "rita")]
    staff.record_judgements_look(services, rita, study="alpha", reason="tab")
    assert looks(world)[-1] == ("export", "rita")

    close_study(world.settings, "alpha", actor="pi")
    before = looks(world)
    out = staff.study_analysis(services, rita, study="alpha", reason="tab")
    staff.record_judgements_look(services, rita, study="alpha", reason="tab")
    assert looks(world) == before  # a closed study: no look to record
    assert out["summary"]["primary"]["contrasts"] and "<h2>Participant flow</h2>" in out["report_html"]


def test_the_timer_prepares_again_only_what_changed(world):
    services, rita = Services(world.settings), staff_member(world, "rita", "researcher")
    close_study(world.settings, "alpha", actor="pi")
    shown = research_results(services, rita, "alpha", None)
    stamp = shown.exported["stamp"]
    assert stamp == ("alpha", "closed", 0, False)
    assert stale(shown.exported, stamp) is None
    assert stale(shown.exported, ("alpha", "closed", 3, False)) == "csv"
    assert stale(shown.exported, ("alpha", "open", 0, True)) == "all"
    assert stale({}, stamp) is None and stale(shown.exported, None) is None
    old = time.time() - REFRESH_AFTER_S - 5
    os.utime(Path(shown.exported["report"]).parent, (old, old))
    assert stale(shown.exported, stamp) == "csv"
    again = refresh_csvs(services, rita, shown.exported, stamp)
    assert again.exported["report"] != shown.exported["report"] and Path(again.exported["report"]).exists()
    assert not Path(shown.exported["report"]).exists()
    assert refresh_csvs(services, None, shown.exported, stamp) is None


def test_primary_and_flow_say_what_is_undefined():
    summary = {
        "study": {"n_judgements": 9},
        "primary": {
            "measure": "verification_accuracy", "alpha": 0.05, "correction": "Holm over the 2",
            "preregistration": {"statement": "not pre-registered: default primary outcome"},
            "contrasts": [
                {"a": "gradcam", "b": "none", "diff": 0.25, "ci_low_adj": 0.01, "ci_high_adj": 0.49,
                 "p_holm": 0.04, "significant": True},
                {"a": "twin", "b": "none", "reason": "verification_accuracy is undefined in twin or none"},
            ],
        },
        "flow": {"none": {"invited": None, "started": 2, "completed": None, "timed_out": None,
                          "excluded": {"n": 1, "reasons": {}}, "analysed": 1, "judgements": 4,
                          "cant_tell": 0}},
    }
    text = primary_markdown(summary)
    assert "not pre-registered: default primary outcome" in text and "from 9 judgements" in text
    assert "gradcam − none: +0.250, interval [0.010, 0.490]" in text and "**significant**" in text
    assert "twin − none: verification_accuracy is undefined" in text
    assert flow_rows(summary) == [["none", "–", 2, "–", "–", 1, 1, 4, 0]]
    assert "none yet (no judgements)" in primary_markdown(
        {"primary": {"measure": "m", "contrasts": [], "reason": "no judgements"}}
    )


def test_curator_undo_of_a_reject_and_the_open_count(world):
    services, carl = Services(world.settings), staff_member(world, "carl", "curator")
    ids = add_many_proposals(world, 3)
    assert staff.curator_open_count(services, carl, dataset="shapes") == 3
    staff.curator_decide(services, carl, proposal_id=ids[0], action="reject")
    assert staff.curator_open_count(services, carl, dataset="shapes") == 2
    item_id = world.alpha_items[0]
    out = staff.curator_undo(services, carl, item_id=item_id)
    assert out["undone"] == "reject" and out["revision_id"] is None and out["proposal_id"] not in ids
    assert out["new_label"] == world.item_labels[item_id]
    assert staff.curator_open_count(services, carl, dataset="shapes") == 3
    with pytest.raises(PlatformError, match="no decision to undo"):
        staff.curator_undo(services, carl, item_id=item_id)


def test_a_closed_study_chosen_again_shows_its_analysis_without_running_it_again(world, monkeypatch):
    """Refresh or choosing the study again with nothing changed (the same stamp) reuses the page's
    analysis; the report file is still written afresh, as every export is."""
    services, rita = Services(world.settings), staff_member(world, "rita", "researcher")
    rate_to_the_end(world)
    close_study(world.settings, "alpha", actor="pi")
    runs = []
    real = staff.study_analysis
    monkeypatch.setattr(staff, "study_analysis", lambda *a, **k: runs.append(1) or real(*a, **k))
    first = research_results(services, rita, "alpha", None)
    again = research_results(services, rita, "alpha", first.exported, stamp=first.exported["stamp"])
    assert len(runs) == 1 and again.analysis == first.analysis and again.flow == first.flow
    assert again.report == first.report and again.exported["report"] != first.exported["report"]
    assert not Path(first.exported["report"]).exists() and Path(again.exported["report"]).is_file()
    judged = ("alpha", "closed", first.exported["stamp"][2] + 1, False)  # something changed: run again
    research_results(services, rita, "alpha", again.exported, stamp=judged)
    assert len(runs) == 2
