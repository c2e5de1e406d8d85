"""`study power` runs the study's own assignment and the analysis's own estimator; its size under the
null is near alpha; a pilot study gives its rater SD, item SD, base rate and model error rate."""

from __future__ import annotations

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from tests.helpers.study_builders import make_study, simulate_in_db
from trustlab.cli import _load_verbs
from trustlab.cli.app import app
from trustlab.db.schema import StudyItem
from trustlab.studies.analysis.outcomes import validate_judgements
from trustlab.studies.analysis.synthetic import SyntheticStudy, simulate_judgements
from trustlab.studies.config.study import load_study_config
from trustlab.studies.design.balance import realised_balance
from trustlab.studies.design.create import close_study
from trustlab.studies.design.power import PowerInputs, load_pilot, pilot_inputs, planned_design, study_power


def config(design: str = "within", **overrides) -> dict:
    out = {
        "name": "power",
        "dataset": "shapes",
        "model": "cnn",
        "items": {"n": 40, "model_errors": 0.3},
        "conditions": ["none", "gradcam"],
        "design": design,
        "raters_per_item": 10,
        "items_per_rater": 20,
        "tasks": ["verify"],
        "analysis": {"primary": "verification_accuracy", "contrasts": [["gradcam", "none"]]},
    }
    out.update(overrides)
    return out


@pytest.mark.parametrize("design", ["within", "between"])
def test_the_simulated_design_is_the_study_create_design(design):
    study = load_study_config(config(design))
    planned = planned_design(study, 20, model_errors=0.3)  # 20 raters x 20 items fill 40 items x 10
    items = [StudyItem(item_id=i + 1, is_gold=False, model_correct=i >= 12) for i in range(40)]
    balance = realised_balance(study, items)
    assert balance["balanced"] and balance["raters"] == 20
    for condition, row in balance["conditions"].items():
        mine = planned[planned["condition"] == condition]
        assert len(mine) == row["assignments"] and int((~mine["model_right"]).sum()) == row["errors"]
    assert planned.groupby("item").size().eq(10).all()
    if design == "within":  # Williams orders: each rater alternates conditions, 10 of each
        assert planned.groupby(["rater", "condition"]).size().eq(10).all()


@pytest.mark.parametrize("design", ["within", "between"])
def test_rejection_rate_at_effect_zero_is_near_alpha(design):
    # 400 studies per row: a true rate of 0.05 has SE 0.011, so <= 0.08 is nearly 3 SE above alpha.
    rows = study_power(load_study_config(config(design)), effect=0.0, raters=[20, 40], sims=400, seed=3)
    for row in rows:
        assert 0.01 <= row.power <= 0.08, (row.raters, row.power)
        assert abs(row.mean_diff) < 0.01


def test_power_rises_with_raters():
    rows = study_power(load_study_config(config()), effect=0.10, raters=[10, 20, 40], sims=100, seed=4)
    powers = [r.power for r in rows]
    assert powers == sorted(powers) and powers[0] < 0.4 and powers[-1] >= 0.8
    assert [r.raters_per_item for r in rows] == [5, 10, 20]
    assert all(abs(r.mean_diff - 0.10) < 0.02 for r in rows)
    # Noisier raters lower the power at the same size.
    noisy = study_power(
        load_study_config(config()),
        effect=0.10,
        raters=[20],
        sims=100,
        seed=4,
        inputs=PowerInputs(rater_sd=0.2, item_sd=0.25),
    )
    assert noisy[0].power < rows[1].power


def test_pilot_estimates_recover_the_simulated_variation():
    spec = SyntheticStudy(
        n_raters=40,
        n_items=60,
        rater_sd=0.1,
        item_sd=0.15,
        verify_accuracy=0.65,
        items_per_rater=30,
        model_accuracy=0.75,
    )
    estimates = np.array(
        [
            (p.verify_accuracy, p.rater_sd, p.item_sd, p.model_errors)
            for seed in range(8)
            for p in [
                pilot_inputs(validate_judgements(simulate_judgements(spec, np.random.default_rng(seed))))
            ]
        ]
    )
    base, rater_sd, item_sd, errors = estimates.mean(axis=0)
    assert base == pytest.approx(0.65, abs=0.03)
    assert rater_sd == pytest.approx(0.1, abs=0.03) and item_sd == pytest.approx(0.15, abs=0.03)
    assert errors == pytest.approx(0.25)
    with pytest.raises(ValueError, match="fewer than two raters"):
        pilot_inputs(validate_judgements(simulate_judgements(spec, np.random.default_rng(0))).head(3))


def test_power_verb_with_a_pilot_study(sqlite_settings, tmp_path, monkeypatch):
    monkeypatch.setenv("TRUSTLAB_HOME", str(sqlite_settings.home))
    monkeypatch.delenv("TRUSTLAB_DB_URL", raising=False)
    pilot = make_study(sqlite_settings, name="pilot", tasks=["verify", "trust"])
    simulate_in_db(sqlite_settings, study=pilot, n_raters=6, seed=1)
    with pytest.raises(ValueError, match="blinded"):  # a pilot still running is not looked at
        load_pilot(sqlite_settings, "pilot", reference="none")
    close_study(sqlite_settings, "pilot")
    inputs = load_pilot(sqlite_settings, "pilot", reference="none")
    assert "pilot study 'pilot'" in inputs.source and 0 < inputs.verify_accuracy < 1
    path = tmp_path / "study.yaml"
    path.write_text(yaml.safe_dump(config()))
    _load_verbs()
    out = tmp_path / "power.png"
    args = ["study", "power", str(path), "--raters", "10,20", "--sims", "5", "--out", str(out)]
    result = CliRunner().invoke(app, [*args, "--pilot", "pilot"])
    assert result.exit_code == 0, result.output
    assert "estimated from pilot study 'pilot'" in result.output and "method:" in result.output
    assert out.stat().st_size > 1000
    plain = CliRunner().invoke(app, args)
    assert plain.exit_code == 0 and "stated defaults" in plain.output and "rater SD 0.050" in plain.output
    missing = CliRunner().invoke(app, [*args, "--pilot", "nope"])
    assert missing.exit_code != 0 and "nope" in missing.output
