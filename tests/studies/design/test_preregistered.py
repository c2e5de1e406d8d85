"""Pre-registration is claimed only when it happened: the researcher wrote the analysis: block, it was
recorded at the first `study open` before any judgement, and it has not changed since."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from typer.testing import CliRunner

from tests.helpers.study_builders import make_study, simulate_in_db
from trustlab.cli import _load_verbs
from trustlab.cli.app import app
from trustlab.db.engine import read_session, unit_of_work
from trustlab.db.queries.studies import get_preregistration, get_study
from trustlab.db.schema import StudyPreregistration
from trustlab.studies.analysis.analyze import analyze_study
from trustlab.studies.config.study import load_study_config
from trustlab.studies.design.create import close_study, open_study, study_preregistration_of
from trustlab.studies.design.preregistered import analysis_sha256, preregistration_status

ANALYSIS = {"primary": "verification_accuracy", "contrasts": [["gradcam", "none"]], "alpha": 0.05}


def _summary(settings, name, tmp_path):
    out = tmp_path / "report"
    analyze_study(settings, name, out, replicates=10)
    return json.loads((out / "summary.json").read_text()), (out / "report.html").read_text()


def test_a_config_without_analysis_block_is_not_preregistered(settings, tmp_path):
    study = make_study(settings)
    simulate_in_db(settings, study=study, n_raters=6, seed=1)
    close_study(settings, study.name, actor="rita")
    summary, page = _summary(settings, study.name, tmp_path)
    primary = summary["primary"]
    assert primary["preregistered"] is False
    assert primary["preregistration"]["statement"].startswith("not pre-registered: default primary outcome")
    assert "not pre-registered: default primary outcome" in page
    assert "pre-registered in the study config" not in page


def test_a_written_block_recorded_at_open_is_preregistered_with_hash_time_and_actor(settings, tmp_path):
    study = make_study(settings, analysis=ANALYSIS, open_it=False)
    open_study(settings, study.name, actor="rita")
    open_study(settings, study.name, actor="someone-else")  # a second opening keeps the first record
    with read_session(settings) as session:
        row = get_study(session, name=study.name)
        record = get_preregistration(session, study_id=row.id)
        config = load_study_config(row.config)
    assert record.actor == "rita" and record.declared and record.judgements_before == 0
    assert record.analysis_sha256 == analysis_sha256(config) and len(record.analysis_sha256) == 64
    assert record.analysis["contrasts"] == [["gradcam", "none"]]
    simulate_in_db(settings, study=study, n_raters=6, seed=1)
    close_study(settings, study.name, actor="rita")
    summary, page = _summary(settings, study.name, tmp_path)
    prereg = summary["primary"]["preregistration"]
    assert summary["primary"]["preregistered"] is True
    assert prereg["analysis_sha256"] == record.analysis_sha256 and prereg["recorded_by"] == "rita"
    assert f"SHA-256 {record.analysis_sha256[:12]}" in page and "before the first judgement" in page


def test_a_block_recorded_after_judgements_or_changed_since_is_not_preregistered(settings):
    study = make_study(settings, analysis=ANALYSIS)
    with read_session(settings) as session:
        row = get_study(session, name=study.name)
        record = get_preregistration(session, study_id=row.id)
        config = load_study_config(row.config)
    late = StudyPreregistration(
        analysis=record.analysis, analysis_sha256=record.analysis_sha256, declared=True,
        actor="rita", judgements_before=12, created_at=datetime.now(UTC),
    )
    assert preregistration_status(late, config)["statement"] == (
        "not pre-registered: the analysis: block was recorded after 12 judgements existed"
    )
    changed = load_study_config({**row.config, "analysis": {**ANALYSIS, "alpha": 0.1}})
    status = preregistration_status(record, changed)
    assert not status["preregistered"] and "differs from the one recorded" in status["statement"]
    assert preregistration_status(record, config)["preregistered"]


def test_a_study_opened_before_records_existed_is_not_preregistered(settings):
    study = make_study(settings, analysis=ANALYSIS)
    with unit_of_work(settings) as session:  # as a database migrated from before 0009 would be
        session.delete(get_preregistration(session, study_id=study.id))
    status = study_preregistration_of(settings, study.name)
    assert not status["preregistered"] and "no record of the analysis" in status["statement"]


def test_study_open_prints_what_was_recorded(sqlite_settings, monkeypatch):
    study = make_study(sqlite_settings, analysis=ANALYSIS, open_it=False)
    monkeypatch.setenv("TRUSTLAB_HOME", str(sqlite_settings.home))
    monkeypatch.delenv("TRUSTLAB_DB_URL", raising=False)
    _load_verbs()
    result = CliRunner().invoke(app, ["study", "open", study.name, "--actor", "rita", "--json"])
    assert result.exit_code == 0, result.output
    prereg = json.loads(result.output)["preregistration"]
    assert prereg["preregistered"] and prereg["recorded_by"] == "rita"
