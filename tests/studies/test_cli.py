"""The study verbs end to end through the CLI: create, open, simulate-raters, status, analyze, export."""

from __future__ import annotations

import json

import yaml
from typer.testing import CliRunner

from tests.helpers.builders import make_image_dataset
from tests.helpers.study_builders import make_model, study_config
from trustlab.cli import _load_verbs
from trustlab.cli.app import app


def test_study_verbs(sqlite_settings, tmp_path, monkeypatch):
    monkeypatch.setenv("TRUSTLAB_HOME", str(sqlite_settings.home))
    monkeypatch.delenv("TRUSTLAB_DB_URL", raising=False)
    dataset_id = make_image_dataset(
        sqlite_settings,
        name="shapes",
        classes=("square", "disc", "cross"),
        per_class={"train": 1, "test": 8},
        size=16,
    )
    make_model(sqlite_settings, dataset_id=dataset_id)
    path = tmp_path / "study.yaml"
    path.write_text(yaml.safe_dump(study_config(gold={"n": 2, "max_failures": 1})))
    _load_verbs()
    runner = CliRunner()

    def ok(*args):
        result = runner.invoke(app, list(args))
        assert result.exit_code == 0, result.output
        return result.output

    assert "created study s1" in ok("study", "create", str(path))
    again = runner.invoke(app, ["study", "create", str(path)])
    assert again.exit_code != 0 and "exists already" in again.output
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(study_config(desing="within")))
    failed = runner.invoke(app, ["study", "create", str(bad)])
    assert failed.exit_code != 0 and "desing: unknown field" in failed.output
    ok("study", "open", "s1")
    assert "6 simulated raters" in ok("simulate-raters", "s1", "--n", "6", "--seed", "2")
    status = json.loads(ok("study", "status", "s1", "--json"))
    assert sum(c["done"] for c in status["per_condition"].values()) == 36
    assert "blinded: " in ok("study", "status", "s1")
    export_refused = runner.invoke(app, ["study", "export", "s1", "--out", str(tmp_path / "early")])
    assert export_refused.exit_code != 0 and "--unblind" in export_refused.output
    assert not (tmp_path / "early").exists()
    refused = runner.invoke(app, ["analyze", "s1", "--out", str(tmp_path / "report"), "--replicates", "100"])
    assert refused.exit_code != 0 and "--unblind" in refused.output
    assert not (tmp_path / "report").exists()
    looked = ok("analyze", "s1", "--out", str(tmp_path / "report"), "--replicates", "100", "--unblind",
                "--actor", "ana")
    assert "wrote" in looked and "interim" in looked and "look 1" in looked
    summary = json.loads((tmp_path / "report" / "summary.json").read_text())
    assert set(summary["conditions"]) == {"none", "gradcam", "twin"}
    exported = " ".join(ok("study", "export", "s1", "--out", str(tmp_path / "export")).split())
    assert "look 2 of this running study" in exported  # unblinded by the analysis: still a recorded look
    assert (tmp_path / "export" / "s1-judgements.csv").read_text().count("\n") == 6 * 8 + 1
    ok("study", "close", "s1")
    missing = runner.invoke(app, ["study", "status", "nope"])
    assert missing.exit_code != 0 and "does not exist" in missing.output


def test_study_unblind_verb_records_who_when_why(sqlite_settings, tmp_path, monkeypatch):
    monkeypatch.setenv("TRUSTLAB_HOME", str(sqlite_settings.home))
    monkeypatch.delenv("TRUSTLAB_DB_URL", raising=False)
    dataset_id = make_image_dataset(
        sqlite_settings, name="shapes", classes=("square", "disc", "cross"),
        per_class={"train": 1, "test": 8}, size=16,
    )
    make_model(sqlite_settings, dataset_id=dataset_id)
    path = tmp_path / "study.yaml"
    path.write_text(yaml.safe_dump(study_config()))
    _load_verbs()
    runner = CliRunner()

    def ok(*args):
        result = runner.invoke(app, list(args))
        assert result.exit_code == 0, result.output
        return result.output

    ok("study", "create", str(path))
    ok("study", "open", "s1")
    status = json.loads(ok("study", "status", "s1", "--json"))
    assert status["blinding"]["blinded"] is True and "study unblind s1" in status["blinding"]["reason"]
    assert "unblinded by rita" in ok("study", "unblind", "s1", "--reason", "DSMB [safety]", "--actor", "rita")
    ok("study", "unblind", "s1")  # a second unblinding appends, by the OS user
    status = json.loads(ok("study", "status", "s1", "--json"))
    blinding = status["blinding"]
    assert blinding["blinded"] is False
    assert (blinding["unblinded"]["actor"], blinding["unblinded"]["reason"]) == ("rita", "DSMB [safety]")
    assert [look["source"] for look in blinding["looks"]] == ["unblind", "unblind"]
    assert blinding["looks"][1]["actor"] and blinding["looks"][1]["actor"] != "rita"
    text = " ".join(ok("study", "status", "s1").split())  # the console wraps long lines
    assert "unblinded by rita" in text and "DSMB [safety]" in text
    # Unblinded already: analysing the running study needs no flag, but is recorded as a look.
    assert "look 1" in ok("analyze", "s1", "--out", str(tmp_path / "r"), "--replicates", "20")
    assert "is closed" in ok("study", "close", "s1")
    assert len(json.loads(ok("study", "status", "s1", "--json"))["blinding"]["looks"]) == 3
    missing = runner.invoke(app, ["study", "unblind", "nope"])
    assert missing.exit_code != 0 and "does not exist" in missing.output
