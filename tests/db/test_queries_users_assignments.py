"""Releasing inactive raters' items, and an invite that binds exactly one rater."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.helpers.query_world import make_query_world
from trustlab.db.engine import read_session, unit_of_work
from trustlab.db.queries.assignments import rater_assignments, release_inactive
from trustlab.db.queries.users import (
    add_invites,
    claim_invite_for_new_rater,
    invite_by_hash,
    user_by_username,
)

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def test_release_inactive_frees_only_unfinished_items_of_inactive_raters(settings):
    world = make_query_world(settings, n_items=3, assigned_at=NOW - timedelta(hours=2))
    with unit_of_work(settings) as s:
        first = rater_assignments(s, study_id=world.study_id, rater_id=world.rater_id)[0]
        first.status = "done"
        first.completed_at = NOW - timedelta(hours=2)
    with unit_of_work(settings) as s:  # active within the last three hours: nothing released
        assert release_inactive(s, study_id=world.study_id, cutoff=NOW - timedelta(hours=3)) == 0
    with unit_of_work(settings) as s:
        assert release_inactive(s, study_id=world.study_id, cutoff=NOW - timedelta(hours=1)) == 2
    with read_session(settings) as s:
        statuses = [a.status for a in rater_assignments(s, study_id=world.study_id, rater_id=world.rater_id)]
    assert statuses == ["done", "released", "released"]


def test_recent_activity_keeps_a_rater_s_items(settings):
    world = make_query_world(settings, n_items=2, assigned_at=NOW - timedelta(hours=2))
    with unit_of_work(settings) as s:
        first = rater_assignments(s, study_id=world.study_id, rater_id=world.rater_id)[0]
        first.status = "done"
        first.completed_at = NOW - timedelta(minutes=5)  # working steadily
    with unit_of_work(settings) as s:
        assert release_inactive(s, study_id=world.study_id, cutoff=NOW - timedelta(hours=1)) == 0


def test_a_claimed_invite_returns_its_first_rater_and_adds_no_other(settings):
    world = make_query_world(settings)
    with unit_of_work(settings) as s:
        [invite] = add_invites(s, study_id=world.study_id, token_hashes=["h" * 64], expires_at=None)
    with unit_of_work(settings) as s:
        first = claim_invite_for_new_rater(s, invite_id=invite.id, username="rater-a",
                                           study_id=world.study_id, now=NOW)
    with unit_of_work(settings) as s:
        second = claim_invite_for_new_rater(s, invite_id=invite.id, username="rater-b",
                                            study_id=world.study_id, now=NOW)
    assert second == first
    with read_session(settings) as s:
        assert invite_by_hash(s, token_hash="h" * 64).rater_id == first
        assert user_by_username(s, username="rater-a").id == first
        assert user_by_username(s, username="rater-b") is None
