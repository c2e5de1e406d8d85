"""A link study over the REST API, on both backends: join by
participant id (201 new, 200 known, 403 without consent, 409 full or closed), consent declined stores
nothing, practice with feedback, an attention check, completion with the study's code, /me before and
after, gold and attention failures screen out, a timed-out session's items are released."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import func, select

from tests.helpers.recruit_world import (
    ATTENTION,
    PARAMS,
    add_link_study,
    bearer,
    join,
    link_config,
    rate_everything,
)
from trustlab.db.engine import read_session, unit_of_work
from trustlab.db.schema import Assignment, Judgement, Participant, ParticipantAnswer, Study, User
from trustlab.studies.judgements import read_judgements


def count(settings, model) -> int:
    with read_session(settings) as s:
        return int(s.scalar(select(func.count()).select_from(model)))


def test_join_new_known_and_me_before_and_after_finishing(world, client):
    add_link_study(world, link_config(practice={"n": 2}, attention=ATTENTION))
    first = join(client)
    assert first.status_code == 201, first.text
    token = first.json()["token"]
    again = join(client, consent=None)  # a reload or another device: same rater, no consent asked again
    assert again.status_code == 200
    assert again.json()["rater_id"] == first.json()["rater_id"]
    me = client.get("/api/v1/me", headers=bearer(token)).json()
    assert me["study"] == "crowd" and me["status"] == "started" and me["done"] == 0 and me["total"] == 3
    assert me["completion_code"] is None and me["completion_url"] is None

    step = rate_everything(client, again.json()["token"])  # resumed with the second token
    me = client.get("/api/v1/me", headers=bearer(token)).json()
    assert step["kind"] == "finished" and me["status"] == "completed"
    assert me["done"] == me["total"] == 3
    with read_session(world.settings) as s:
        participant = s.scalars(select(Participant)).one()
        rater = s.get(User, participant.rater_id)
        answers = s.scalars(select(ParticipantAnswer)).all()
    assert me["completion_code"] == participant.completion_code == step["code"]
    assert me["completion_url"] == f"https://app.example.org/complete?cc={participant.completion_code}"
    assert participant.pid == "pp-1" and participant.params == {"STUDY_ID": "st-9", "SESSION_ID": "se-3"}
    assert rater.external_pid == "pp-1" and participant.consent_at is not None
    assert sorted((a.kind, a.index) for a in answers) == [("attention", 0), ("practice", 0), ("practice", 1)]
    # Finished: the next item is the completion code again (204), no more answers.
    done = client.get("/api/v1/studies/crowd/next", headers=bearer(token))
    assert done.status_code == 204 and done.headers["X-Completion-Code"] == participant.completion_code


def test_practice_gives_feedback_and_is_never_analysed(world, client):
    add_link_study(world, link_config(practice={"n": 2}))
    token = join(client).json()["token"]
    item = client.get("/api/v1/practice/0", headers=bearer(token)).json()
    assert item["total"] == 2 and item["item_id"] not in world.alpha_items[:4]
    label = world.item_labels[item["item_id"]]
    feedback = client.post(
        "/api/v1/practice/0/answer",
        headers=bearer(token),
        json={
            "answers": {
                "model_correct": True,
                "true_label": "disc" if label == "square" else "square",
                "trust": 2,
            }
        },
    ).json()
    assert feedback["correct"] is False and feedback["right_answers"]["true_label"] == label
    assert label in feedback["feedback"]
    image = client.get(item["image_url"], headers=bearer(token))
    assert image.status_code == 200 and image.headers["content-type"] == "image/png"
    # Items wait until the practice is done.
    assert client.get("/api/v1/studies/crowd/next", headers=bearer(token)).status_code == 409
    rate_everything(client, token)
    with read_session(world.settings) as s:
        frame = read_judgements(s, study_id=world.studies["crowd"])
        practice_ids = {a.item_id for a in s.scalars(select(ParticipantAnswer))}
    assert len(practice_ids) == 2 and len(frame) == 3
    assert not practice_ids & set(frame["item_id"])


def test_consent_required_declined_stores_nothing(world, client):
    add_link_study(world, link_config())
    raters = count(world.settings, User)
    refused = join(client, consent=False)
    assert refused.status_code == 403
    assert refused.json()["screenout_url"].startswith("https://app.example.org/complete?cc=")
    assert join(client, consent=None).status_code == 403
    declined = client.post("/api/v1/studies/crowd/decline").json()
    assert declined["screenout_url"] == refused.json()["screenout_url"]
    assert count(world.settings, User) == raters
    assert count(world.settings, Participant) == count(world.settings, Judgement) == 0


def test_full_and_closed_studies_answer_409_known_pids_still_resume(world, client):
    add_link_study(world, link_config(max_participants=2))
    assert join(client, {"PROLIFIC_PID": "a"}).status_code == 201
    assert join(client, {"PROLIFIC_PID": "b"}).status_code == 201
    full = join(client, {"PROLIFIC_PID": "c"})
    assert full.status_code == 409 and "full" in full.json()["detail"]
    assert join(client, {"PROLIFIC_PID": "a"}).status_code == 200
    with unit_of_work(world.settings) as s:
        s.get(Study, world.studies["crowd"]).status = "closed"
    world_settings_cache_bust(client)
    assert join(client, {"PROLIFIC_PID": "d"}).status_code == 409


def world_settings_cache_bust(client) -> None:
    client.app.state.services.studies._entries.clear()


def test_invite_studies_have_no_join_and_missing_pid_is_422(world, client):
    add_link_study(world, link_config())
    invite_only = client.post("/api/v1/studies/alpha/join", json={"pid": "x", "consent": True})
    unknown = client.post("/api/v1/studies/nope/join", json={"pid": "x", "consent": True})
    assert invite_only.status_code == unknown.status_code == 404
    for answer in (invite_only, unknown, client.get("/api/v1/studies/nope/entry")):
        assert "alpha" not in answer.text.replace("'alpha'", "") and "beta" not in answer.text
    assert join(client, {"STUDY_ID": "only"}).status_code == 422
    generic = join(client, {"pid": "generic-id"})  # ?pid= works on every platform
    assert generic.status_code == 201


def test_failed_attention_check_screens_out_and_releases_items(world, client):
    add_link_study(world, link_config(attention=ATTENTION, gold={"n": 0, "max_failures": 0}))
    token = join(client).json()["token"]
    step = rate_everything(client, token, attention_answer=True)  # the check asked for "No"
    assert step["kind"] == "screened_out"
    me = client.get("/api/v1/me", headers=bearer(token)).json()
    assert me["status"] == "screened_out" and me["completion_code"] is None
    assert me["screenout_url"] == step["url"] and "cc=" in step["url"]
    with read_session(world.settings) as s:
        participant = s.scalars(select(Participant)).one()
        statuses = sorted(s.scalars(select(Assignment.status)))
    assert participant.attention_failures == 1 and participant.status == "screened_out"
    assert "released" in statuses and "assigned" not in statuses


def test_gold_failures_per_rater_screen_out(world, client):
    add_link_study(world, link_config(per_rater=3, gold={"n": 1, "max_failures": 0}), gold=1)
    gold_item = world.beta_items[0]
    wrong = {gold_item: {"true_label": "disc" if world.item_labels[gold_item] == "square" else "square"}}
    token = join(client).json()["token"]
    step = rate_everything(client, token, gold_right=wrong)
    assert step["kind"] == "screened_out"
    with read_session(world.settings) as s:
        participant = s.scalars(select(Participant)).one()
    assert participant.gold_failures == 1 and participant.attention_failures == 0


def test_timed_out_session_releases_its_items_and_takes_no_answers(world, client):
    add_link_study(world, link_config(max_minutes=0.002))  # 0.12 s
    token = join(client).json()["token"]
    item = client.get("/api/v1/studies/crowd/next", headers=bearer(token)).json()
    time.sleep(0.3)
    refused = client.post(
        "/api/v1/judgements",
        headers=bearer(token),
        json={
            "assignment_id": item["assignment_id"],
            "answers": {"model_correct": True, "true_label": "square", "trust": 4},
            "idempotency_key": "late",
        },
    )
    assert refused.status_code == 409
    me = client.get("/api/v1/me", headers=bearer(token)).json()
    assert me["status"] == "timed_out" and me["completion_code"] is None
    with read_session(world.settings) as s:
        statuses = set(s.scalars(select(Assignment.status)))
    assert statuses == {"released"}
    assert count(world.settings, Judgement) == 0
    # The place is free again, and the same pid resumes only to its ended status.
    again = join(client)
    assert again.status_code == 200 and again.json()["status"] == "timed_out"
    assert client.get("/api/v1/studies/crowd/next", headers=bearer(token)).status_code == 409


def test_invites_into_a_link_study_are_refused_so_no_one_skips_its_steps(world, client):
    """An invite into a link study would skip consent, instructions and practice and hold a list of
    items. Making one is refused with the command to use instead; one made anyway (written into the
    database) creates no rater; the simulator's robots may still be invited."""
    from trustlab.db.queries.users import add_invites
    from trustlab.platform.accounts import auth
    from trustlab.platform.accounts.invites import LinkStudyInvite, create_invites

    study_id = add_link_study(world, link_config(practice={"n": 1}, attention=ATTENTION))
    with pytest.raises(LinkStudyInvite) as refused:
        world.invite("crowd")
    assert refused.value.status == 409
    assert refused.value.message.startswith("Study 'crowd' takes participants through its public link")
    assert "`trustlab study link crowd`" in refused.value.message
    old = auth.new_token()
    with unit_of_work(world.settings) as s:
        add_invites(s, study_id=study_id, token_hashes=[auth.hash_token(old)], expires_at=None)
    answer = client.post("/api/v1/invites/accept", json={"invite": old})
    assert answer.status_code == 409 and answer.json()["detail"].startswith("This invite link cannot be used")
    assert count(world.settings, User) == 0 and count(world.settings, Assignment) == 0
    robot = create_invites(world.settings, study="crowd", n=1, simulated=True)[0].token
    assert client.post("/api/v1/invites/accept", json={"invite": robot}).status_code == 200


def test_a_study_link_opened_with_its_placeholders_stores_nothing(world, client):
    """The `study link` URL as printed ({{%PROLIFIC_PID%}}), opened directly instead of through the
    platform, must not create that "participant" or use a place. Placeholders are refused (422,
    saying what happened), in the pid and in the platform's other parameters."""
    from urllib.parse import parse_qsl, urlsplit

    from trustlab.studies.recruitment.participants import study_link

    add_link_study(world, link_config(max_participants=1))
    printed = study_link(world.settings, "crowd", base_url="https://rate.example.org")["url"]
    params = dict(parse_qsl(urlsplit(printed).query))
    assert params["PROLIFIC_PID"] == "{{%PROLIFIC_PID%}}"
    for bad in (
        params,
        {**PARAMS, "STUDY_ID": "{{%STUDY_ID%}}"},
        {**PARAMS, "PROLIFIC_PID": "%PROLIFIC_PID%"},
        {**PARAMS, "PROLIFIC_PID": "${PROLIFIC_PID}"},
        {**PARAMS, "PROLIFIC_PID": "{pid}"},
        {**PARAMS, "PROLIFIC_PID": "PARTICIPANT_ID"},
    ):
        for consent in (None, True):
            answer = join(client, bad, consent=consent)
            assert answer.status_code == 422, (bad, answer.text)
            assert "opened directly" in answer.json()["detail"]
            assert "platform's preview" in answer.json()["detail"]
    assert count(world.settings, Participant) == 0 and count(world.settings, User) == 0
    # A real id takes the one place (it was not used up by the placeholders).
    assert join(client, {**PARAMS, "PROLIFIC_PID": "5f3c9a1b2d4e6f7a8b9c0d1e"}).status_code == 201


def test_recruitment_paths_are_served(client):
    from trustlab.platform.routes import join_path, practice_image_path

    spec = client.app.openapi()["paths"]
    assert "post" in spec[join_path("{study}")]
    assert "get" in spec[practice_image_path("{study}", "{index}")]


def test_screened_out_participants_leave_the_analysis_with_their_reason(world, client):
    from trustlab.studies.analysis.flow import flow
    from trustlab.studies.analysis.load import load_study_data
    from trustlab.studies.analysis.truth import exclusions

    add_link_study(world, link_config(attention=ATTENTION, gold={"n": 0, "max_failures": 0}))
    kept = join(client, {**PARAMS, "PROLIFIC_PID": "pp-kept"}).json()["token"]
    assert rate_everything(client, kept)["kind"] == "finished"
    out = join(client, {**PARAMS, "PROLIFIC_PID": "pp-out"}).json()["token"]
    assert rate_everything(client, out, attention_answer=True)["kind"] == "screened_out"
    data = load_study_data(world.settings, "crowd")
    with read_session(world.settings) as s:
        out_rater = s.scalars(select(Participant.rater_id).where(Participant.pid == "pp-out")).one()
    rated = data.judgements[data.judgements["rater_id"] == out_rater]
    assert len(rated) >= 1  # they rated items before failing the check
    assert data.screened_out == {out_rater: data.screened_out[out_rater]}
    _, excluded, regular = exclusions(data.judgements, data.config, data.screened_out)
    assert [row["rater_id"] for row in excluded] == [out_rater]
    assert excluded[0]["reason"].startswith("screened out during the study")
    assert out_rater not in set(regular["rater_id"]) and len(regular) == 3
    # Without the participants' statuses the gold rule alone would have kept them.
    assert out_rater in set(exclusions(data.judgements, data.config)[2]["rater_id"])
    reasons = [e["excluded"]["reasons"] for e in flow(data.assignments, data.judgements, excluded).values()]
    assert any(why.startswith("screened out") for r in reasons for why in r)
