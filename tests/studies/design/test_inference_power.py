"""`trustlab study power`: simulation-based power with the analysis's own estimator and Holm family."""

from __future__ import annotations

import yaml
from typer.testing import CliRunner

from trustlab.cli import _load_verbs
from trustlab.cli.app import app
from trustlab.studies.config.study import load_study_config
from trustlab.studies.design.power import study_power

CONFIG = {
    "name": "power",
    "dataset": "shapes",
    "model": "cnn",
    "items": {"n": 40, "model_errors": 0.3},
    "conditions": ["none", "gradcam", "twin"],
    "items_per_rater": 40,
    "tasks": ["verify"],
    "analysis": {"primary": "verification_accuracy", "contrasts": [["gradcam", "none"], ["twin", "none"]]},
}


def test_power_grows_with_raters_and_is_near_alpha_without_an_effect():
    config = load_study_config(CONFIG)
    rows = study_power(config, effect=0.15, raters=[6, 45], sims=40, seed=1)
    assert [r.raters for r in rows] == [6, 45]
    assert rows[0].power < rows[1].power and rows[1].power >= 0.8
    [null] = study_power(config, effect=0.0, raters=[30], sims=60, seed=2)
    assert null.detected <= 6  # Holm over two contrasts at 0.05: about 2.5% per contrast


def test_power_verb_prints_a_table_and_writes_the_plot(tmp_path):
    path = tmp_path / "study.yaml"
    path.write_text(yaml.safe_dump(CONFIG))
    _load_verbs()
    out = tmp_path / "power.png"
    result = CliRunner().invoke(
        app,
        [
            "study",
            "power",
            str(path),
            "--effect",
            "0.1",
            "--raters",
            "10,20",
            "--sims",
            "5",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "power" in result.output and out.stat().st_size > 1000
    bad = CliRunner().invoke(app, ["study", "power", str(path), "--raters", "1"])
    assert bad.exit_code != 0 and "raters" in bad.output
