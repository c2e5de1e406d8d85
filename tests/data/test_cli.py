"""`trustlab ingest` and `trustlab demo-data` through the Typer app."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

import trustlab.cli.datacmd  # noqa: F401 - attaches the verbs to the app
from trustlab.cli.app import app
from trustlab.db.engine import unit_of_work
from trustlab.db.queries.datasets import get_dataset
from trustlab.db.queries.items import list_items


def _has(output: str, text: str) -> bool:
    """Substring check that survives Rich wrapping long lines at the console width (inside a
    long path, or at a space)."""
    return text in output.replace("\n", "") or text in " ".join(output.split())


@pytest.fixture
def cli_env(settings, monkeypatch):
    monkeypatch.setenv("TRUSTLAB_HOME", str(settings.home))
    monkeypatch.setenv("TRUSTLAB_DB_URL", settings.db_url or "")
    return settings


def test_ingest_cli_table_report_and_rerun(cli_env, mixed_folder, tmp_path):
    runner = CliRunner()
    report_file = tmp_path / "out" / "report.json"
    result = runner.invoke(app, ["ingest", str(mixed_folder.root), "--dataset", "mixed",
                                 "--report", str(report_file)])
    assert result.exit_code == 0, result.output
    assert "ingested" in result.output and "skipped: too large" in result.output
    assert _has(result.output, "beta/huge.png")
    report = json.loads(report_file.read_text())
    assert report["ingested"] == 10 and report["skipped"] == 5
    assert report["skipped_by_reason"]["too large"] == 2
    assert {f["path"]: f["reason"] for f in report["skipped_files"]} == mixed_folder.bad

    again = runner.invoke(app, ["ingest", str(mixed_folder.root), "--dataset", "mixed"])
    assert again.exit_code == 0, again.output
    with unit_of_work(cli_env) as s:
        assert len(list_items(s, dataset_id=get_dataset(s, name="mixed").id)) == 10


def test_ingest_cli_failures_exit_non_zero(cli_env, tmp_path):
    runner = CliRunner()
    missing = runner.invoke(app, ["ingest", str(tmp_path / "nowhere"), "--dataset", "x"])
    assert missing.exit_code != 0
    assert _has(missing.output, "does not exist") and _has(missing.output, "nowhere")

    junk = tmp_path / "junk" / "cls"
    junk.mkdir(parents=True)
    (junk / "a.jpg").write_text("not a jpeg")
    nothing = runner.invoke(app, ["ingest", str(junk.parent), "--dataset", "x"])
    assert nothing.exit_code != 0
    assert _has(nothing.output, "nothing ingested") and _has(nothing.output, "not an image")

    bad_split = runner.invoke(app, ["ingest", str(junk.parent), "--dataset", "x", "--split", "train=2"])
    assert bad_split.exit_code != 0 and "--split" in bad_split.output


def test_demo_data_cli_then_ingest_manifest(cli_env, tmp_path):
    runner = CliRunner()
    out = tmp_path / "demo"
    made = runner.invoke(app, ["demo-data", str(out), "--n", "24", "--seed", "2"])
    assert made.exit_code == 0, made.output
    assert (out / "manifest.csv").is_file() and (out / "demo.json").is_file()
    ingested = runner.invoke(app, ["ingest", str(out), "--manifest", str(out / "manifest.csv"),
                                   "--dataset", "demo"])
    assert ingested.exit_code == 0, ingested.output
    with unit_of_work(cli_env) as s:
        items = list_items(s, dataset_id=get_dataset(s, name="demo").id)
    assert len(items) == 24 and all(item.mask_path for item in items)

    bad = runner.invoke(app, ["demo-data", str(tmp_path / "other"), "--bias", "sticker"])
    assert bad.exit_code != 0 and "--bias" in bad.output
