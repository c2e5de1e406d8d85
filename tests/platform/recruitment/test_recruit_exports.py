"""What a researcher downloads from a link study: the participants table for
approving and paying (library, CLI, researcher tab), and the judgement exports of the CLI and the
researcher tab, which share one column list and carry the participant id."""

from __future__ import annotations

import csv
import io
import json

import pytest
from typer.testing import CliRunner

from tests.helpers.recruit_world import (
    ATTENTION,
    PARAMS,
    add_link_study,
    bearer,
    join,
    link_config,
    rate_everything,
)
from trustlab.cli import _load_verbs
from trustlab.cli.app import app as cli_app
from trustlab.platform.accounts import auth
from trustlab.platform.recruitment import join as joining
from trustlab.platform.services import staff
from trustlab.studies.monitoring.export import export_study, judgement_export_columns
from trustlab.studies.monitoring.outcome_blinding import unblind_study
from trustlab.studies.recruitment.participants import participant_columns, participants_frame


@pytest.fixture
def api(world, client):
    """Three participants: one completed, one screened out by the attention check, one started."""
    add_link_study(world, link_config(attention=ATTENTION, gold={"n": 0, "max_failures": 0}))
    done = join(client, PARAMS).json()["token"]
    rate_everything(client, done)
    out = join(client, {**PARAMS, "PROLIFIC_PID": "pp-2", "SESSION_ID": "=cmd"}).json()["token"]
    rate_everything(client, out, attention_answer=True)
    join(client, {**PARAMS, "PROLIFIC_PID": "pp-3"})
    return client


def cli_env(settings) -> dict:
    return {"TRUSTLAB_HOME": str(settings.home), "TRUSTLAB_DB_URL": settings.database_url}


def test_participants_table_columns_and_content(world, api):
    frame = participants_frame(world.settings, "crowd")
    assert list(frame.columns) == participant_columns("prolific")
    assert {
        "pid",
        "STUDY_ID",
        "SESSION_ID",
        "status",
        "approve",
        "started_at",
        "finished_at",
        "minutes",
        "attention_failures",
        "gold_failures",
        "completion_code",
    } <= set(frame.columns)
    rows = {r["pid"]: r for r in frame.to_dict("records")}
    assert rows["pp-1"]["status"] == "completed" and rows["pp-1"]["approve"] == 1
    assert rows["pp-1"]["STUDY_ID"] == "st-9" and rows["pp-1"]["done"] == 3
    assert rows["pp-1"]["minutes"] is not None and rows["pp-1"]["minutes"] >= 0
    me = api.get("/api/v1/me", headers=bearer(join(api, PARAMS).json()["token"])).json()
    assert rows["pp-1"]["completion_code"] == me["completion_code"]
    assert rows["pp-2"]["status"] == "screened_out" and rows["pp-2"]["attention_failures"] == 1
    assert rows["pp-2"]["approve"] == 0 and rows["pp-2"]["completion_code"] is None
    assert rows["pp-3"]["status"] == "started" and rows["pp-3"]["finished_at"] is None


def test_participants_cli_csv_json_and_mturk_format(world, api, tmp_path):
    _load_verbs()
    runner = CliRunner()
    out = tmp_path / "participants.csv"
    result = runner.invoke(
        cli_app, ["study", "participants", "crowd", "--out", str(out)], env=cli_env(world.settings)
    )
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"))))
    assert list(rows[0]) == participant_columns("prolific")
    assert [r["pid"] for r in rows] == ["pp-1", "pp-2", "pp-3"]
    assert rows[1]["SESSION_ID"] == "'=cmd"  # escaped against spreadsheet formulas
    as_json = runner.invoke(
        cli_app, ["study", "participants", "crowd", "--json"], env=cli_env(world.settings)
    )
    assert [r["status"] for r in json.loads(as_json.stdout)] == ["completed", "screened_out", "started"]
    mturk = runner.invoke(
        cli_app,
        ["study", "participants", "crowd", "--format", "mturk", "--json"],
        env=cli_env(world.settings),
    )
    first = json.loads(mturk.stdout)[0]
    assert (
        list(first) == ["AssignmentId", "WorkerId", "HITId", "Approve", "Reject"] and first["Approve"] == "x"
    )
    bad = runner.invoke(
        cli_app, ["study", "participants", "crowd", "--format", "xls"], env=cli_env(world.settings)
    )
    assert bad.exit_code == 2
    invite = runner.invoke(cli_app, ["study", "participants", "alpha"], env=cli_env(world.settings))
    assert invite.exit_code == 1


def test_study_link_and_returned(world, api):
    _load_verbs()
    runner = CliRunner()
    link = runner.invoke(
        cli_app,
        ["study", "link", "crowd", "--base-url", "https://rate.example.org", "--json"],
        env=cli_env(world.settings),
    )
    info = json.loads(link.stdout)
    assert info["url"].startswith("https://rate.example.org/?study=crowd&PROLIFIC_PID={{%PROLIFIC_PID%}}")
    frame = participants_frame(world.settings, "crowd")
    assert frame.loc[frame["pid"] == "pp-1", "completion_code"].item() == info["completion_code"]
    returned = runner.invoke(
        cli_app, ["study", "returned", "crowd", "pp-3", "--json"], env=cli_env(world.settings)
    )
    assert json.loads(returned.stdout) == {"study": "crowd", "returned": 1}
    frame = participants_frame(world.settings, "crowd")
    assert frame.loc[frame["pid"] == "pp-3", "status"].item() == "returned"
    unknown = runner.invoke(cli_app, ["study", "returned", "crowd", "nobody"], env=cli_env(world.settings))
    assert unknown.exit_code == 1


def test_researcher_sees_failures_per_participant(world, api):
    researcher_id, _ = auth.create_user(world.settings, username="res", role="researcher", password="x" * 12)
    principal = auth.Principal(rater_id=researcher_id, username="res", role="researcher", study_id=None)
    rows = joining.participant_failures(api.app.state.services, principal, study="crowd")
    assert [r[0] for r in rows] == ["pp-1", "pp-2", "pp-3"]
    assert [(r[2], r[4], r[5]) for r in rows] == [
        ("completed", 0, 0),
        ("screened_out", 1, 0),
        ("started", 0, 0),
    ]
    text = joining.participants_csv(api.app.state.services, principal, study="crowd")
    assert text.splitlines()[0].split(",") == participant_columns("prolific")


def test_cli_and_researcher_tab_judgement_exports_share_columns_and_the_pid(world, api, tmp_path):
    unblind_study(world.settings, "crowd", actor="res", reason="test")
    researcher_id, _ = auth.create_user(world.settings, username="res2", role="researcher", password="y" * 12)
    principal = auth.Principal(rater_id=researcher_id, username="res2", role="researcher", study_id=None)
    ui_text = staff.judgements_csv(api.app.state.services, principal, study="crowd")
    cli_text = export_study(world.settings, "crowd", tmp_path)["csv"].read_text(encoding="utf-8")
    ui_rows = list(csv.DictReader(io.StringIO(ui_text)))
    cli_rows = list(csv.DictReader(io.StringIO(cli_text)))
    assert list(ui_rows[0]) == list(cli_rows[0]) == judgement_export_columns()
    assert "external_pid" in judgement_export_columns()
    assert {r["external_pid"] for r in cli_rows} == {r["external_pid"] for r in ui_rows} == {"pp-1", "pp-2"}


def test_participants_csv_route_is_for_researchers(world, api, tmp_path):
    auth.create_user(world.settings, username="res3", role="researcher", password="z" * 12)
    staff_token = api.post("/api/v1/login", json={"username": "res3", "password": "z" * 12}).json()["token"]
    response = api.get("/api/v1/studies/crowd/participants.csv", headers=bearer(staff_token))
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    assert response.text.splitlines()[0].split(",") == participant_columns("prolific")
    rater_token = join(api, PARAMS).json()["token"]
    assert api.get("/api/v1/studies/crowd/participants.csv", headers=bearer(rater_token)).status_code == 403
    assert api.get("/api/v1/studies/alpha/participants.csv", headers=bearer(staff_token)).status_code == 409
    from trustlab.platform.ui.staff.results import results as research_results

    principal = auth.authenticate(world.settings, staff_token)
    shown = research_results(api.app.state.services, principal, "crowd", None)  # the tab's button's file
    assert shown.downloads["participants"]
    assert open(shown.exported["participants"], encoding="utf-8").read() == response.text
