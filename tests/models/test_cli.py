"""The model verbs end to end through the Typer app: output, files, exit codes and error messages."""

from __future__ import annotations

import pytest
import torch
from typer.testing import CliRunner

from tests.helpers.builders import make_image_dataset
from trustlab.cli import _load_verbs
from trustlab.cli.app import app


@pytest.fixture
def cli(sqlite_settings, monkeypatch):
    monkeypatch.setenv("TRUSTLAB_HOME", str(sqlite_settings.home))
    monkeypatch.delenv("TRUSTLAB_DB_URL", raising=False)
    _load_verbs()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    runner = CliRunner()
    yield lambda *args: runner.invoke(app, [str(a) for a in args])
    torch.set_num_threads(threads)


def test_train_evaluate_compare_predict_verbs(cli, sqlite_settings, tmp_path):
    make_image_dataset(sqlite_settings, size=32)
    common = ["--dataset", "shapes", "--arch", "simple_cnn", "--img-size", 32, "--batch-size", 8]
    result = cli("train", *common, "--name", "a", "--epochs", 2, "--augment", "hflip=0,crop_scale=0.9")
    assert result.exit_code == 0, result.output
    assert "trained a (simple_cnn)" in result.output
    assert cli("train", *common, "--name", "b", "--epochs", 1, "--no-augment").exit_code == 0
    result = cli("evaluate", "--model", "a")
    assert result.exit_code == 0, result.output
    assert "accuracy" in result.output and (sqlite_settings.models_dir / "a" / "eval_test").is_dir()
    result = cli("compare", "a", "b", "--out", tmp_path / "c.csv")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "c.csv").is_file() and "changed prediction" in result.output
    result = cli("models")
    assert result.exit_code == 0 and "│ a " in result.output and "│ b " in result.output
    result = cli("predict", "--model", "a", "--split", "test")
    assert result.exit_code == 0 and "8 added, 0 already there" in result.output
    result = cli("predict", "--model", "a", "--cross-val", 2, "--cv-epochs", 1)
    assert result.exit_code == 0 and "crossval predictions of a: 32 added" in result.output


def test_errors_exit_non_zero_with_the_message(cli, sqlite_settings):
    make_image_dataset(sqlite_settings, size=32)
    result = cli("train", "--dataset", "shapes", "--arch", "alexnet", "--name", "x")
    assert result.exit_code == 1 and "unknown architecture 'alexnet'" in result.output
    result = cli("train", "--dataset", "shapes", "--name", "y", "--augment", "zoom=2")
    assert result.exit_code == 1 and "'zoom=2' is not KEY=NUMBER" in result.output
    result = cli("evaluate", "--model", "ghost")
    assert result.exit_code == 1 and "model 'ghost' does not exist" in result.output
