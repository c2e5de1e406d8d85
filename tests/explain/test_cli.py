"""The explain verbs through the Typer app: output, files, exit codes and error messages."""

from __future__ import annotations

import json

import pytest
import torch
from typer.testing import CliRunner

from tests.helpers.builders import make_image_dataset
from trustlab.cli import _load_verbs
from trustlab.cli.app import app
from trustlab.models.arch import build_model
from trustlab.models.checkpoint import ModelSpec, register_model
from trustlab.models.images import IMAGENET_MEAN, IMAGENET_STD


@pytest.fixture
def cli(sqlite_settings, monkeypatch):
    monkeypatch.setenv("TRUSTLAB_HOME", str(sqlite_settings.home))
    monkeypatch.delenv("TRUSTLAB_DB_URL", raising=False)
    _load_verbs()
    dataset_id = make_image_dataset(sqlite_settings, per_class={"train": 2, "test": 2}, size=32)
    torch.manual_seed(0)
    register_model(sqlite_settings, name="m", dataset_id=dataset_id, module=build_model("simple_cnn", 2),
                   spec=ModelSpec(arch="simple_cnn", class_names=("square", "disc"), img_size=32,
                                  mean=IMAGENET_MEAN, std=IMAGENET_STD))
    runner = CliRunner()
    return lambda *args: runner.invoke(app, [str(a) for a in args])


def test_explain_bias_and_sanity_verbs(cli, tmp_path):
    params = json.dumps({"lime": {"num_samples": 16}})
    result = cli(
        "explain",
        "--model",
        "m",
        "--methods",
        "gradcam,lime,twin",
        "--params",
        params,
        "--shard",
        "0/2",
        "--device",
        "cpu",
    )
    assert result.exit_code == 0, result.output
    assert "gradcam" in result.output and "lime" in result.output and "shard 0/2" in result.output
    assert cli("explain", "--model", "m", "--methods", "gradcam", "--shard", "1/2").exit_code == 0
    result = cli("explain-bias", "--model", "m", "--region", "0,0,8,8", "--out", tmp_path / "bias")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "bias" / "bias.csv").is_file() and list((tmp_path / "bias").glob("mean_gradcam_*.png"))
    (tmp_path / "demo.json").write_text(json.dumps({"watermark_box": [0, 0, 8, 8]}))
    result = cli("explain-bias", "--model", "m", "--bias", "watermark", "--demo", tmp_path)
    assert result.exit_code == 0, result.output
    result = cli("sanity-check", "--model", "m", "--n-items", 2, "--mode", "full")
    assert result.exit_code == 0, result.output
    assert "Spearman" in result.output and "all" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["explain", "--model", "m", "--methods", "gradkam"], "unknown explanation method"),
        (["explain", "--model", "nope"], "does not exist"),
        (["explain", "--model", "m", "--params", "{oops"], "not valid JSON"),
        (["explain", "--model", "m", "--shard", "2/2"], "shard"),
        (["explain-bias", "--model", "m"], "--region"),
        (["explain-bias", "--model", "m", "--region", "0,0,4,4", "--methods", "lime"], "trustlab explain"),
        (["sanity-check", "--model", "m", "--mode", "half"], "cascading"),
    ],
)
def test_errors_exit_non_zero_with_a_message(cli, args, message):
    result = cli(*args)
    assert result.exit_code == 1 and message in result.output


def test_target_layer_flag_reaches_the_cam_methods(cli, sqlite_settings):
    from sqlalchemy import select

    from trustlab.db.engine import read_session
    from trustlab.db.schema import Explanation

    result = cli("explain", "--model", "m", "--methods", "gradcam", "--target-layer", "features.6",
                 "--no-faithfulness", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["methods"][0]["explanations"] == 4
    with read_session(sqlite_settings) as session:
        layers = {e.params.get("target_layer") for e in session.scalars(select(Explanation))}
    assert layers == {"features.6"}
    wrong = cli("explain", "--model", "m", "--methods", "gradcam", "--target-layer", "features.66")
    assert wrong.exit_code == 1 and "features.6" in wrong.output  # the closest names are listed
    sanity = cli("sanity-check", "--model", "m", "--methods", "gradcam", "--n-items", "2",
                 "--target-layer", "features.6", "--json")
    assert sanity.exit_code == 0, sanity.output
