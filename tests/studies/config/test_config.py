"""Study config validation: strict fields, errors that name the field and the fix."""

from __future__ import annotations

import subprocess
import sys

import pytest
import yaml

from trustlab.studies.config.study import StudyConfigError, condition_methods, load_study_config

ISSUE_YAML = """
name: demo-trust
dataset: demo
model: cnn-demo
items: {split: test, n: 60, model_errors: 0.3, ids: null}
conditions: [none, gradcam, lime, twin, gradcam+twin]
design: within
raters_per_item: 5
items_per_rater: 40
tasks: [verify, true_label, trust, helpfulness, confidence, comment]
likert_points: 7
show_prediction: true
hide_condition: true
gold: {n: 4, max_failures: 1}
seed: 0
"""


def base(**overrides):
    config = yaml.safe_load(ISSUE_YAML)
    config.update(overrides)
    return config


def error_of(config) -> str:
    with pytest.raises(StudyConfigError) as info:
        load_study_config(config)
    return str(info.value)


def test_issue_example_validates_from_a_file(tmp_path):
    path = tmp_path / "study.yaml"
    path.write_text(ISSUE_YAML)
    config = load_study_config(path)
    assert config.conditions == ["none", "gradcam", "lime", "twin", "gradcam+twin"]
    assert config.methods == ["gradcam", "lime", "twin"]
    assert config.gold.n == 4 and config.per_rater_total == 44
    assert config.items.model_errors == 0.3 and config.timeout_minutes == 60


def test_unknown_field_is_named_with_a_suggestion():
    config = base()
    config["conditons"] = config.pop("conditions")
    message = error_of(config)
    assert "conditons: unknown field" in message and "did you mean `conditions`" in message
    assert "conditions: required field is missing" in message


def test_unknown_nested_field_is_named():
    message = error_of(base(gold={"n": 2, "max_failure": 1}))
    assert "gold.max_failure: unknown field" in message and "max_failures" in message


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"conditions": ["none", "gradcan"]}, "did you mean 'gradcam'"),
        ({"conditions": ["none+gradcam"]}, "use 'none' alone"),
        ({"conditions": []}, "conditions"),
        ({"conditions": ["twin", "twin"]}, "listed twice"),
        ({"tasks": ["verify", "rate"]}, "tasks.1"),
        ({"likert_points": 12}, "likert_points"),
        ({"likert_points": 1}, "likert_points"),
        ({"design": "mixed"}, "design"),
        ({"items_per_rater": 61}, "items_per_rater (61) is larger"),
        ({"gold": {"n": 2, "max_failures": 3}}, "gold.max_failures"),
        ({"tasks": ["trust"], "gold": {"n": 2, "max_failures": 0}}, "set gold.n: 0"),
        ({"items": {"split": "test", "n": 60, "model_errors": 1.5}}, "items.model_errors"),
        ({"raters_per_item": 0}, "raters_per_item"),
    ],
)
def test_invalid_values_name_the_field(overrides, expected):
    assert expected in error_of(base(**overrides))


def test_any_nonempty_subset_is_valid_and_combos_parse():
    config = load_study_config(
        base(conditions=["gradcam++"], tasks=["trust"], gold={"n": 0, "max_failures": 0})
    )
    assert config.methods == ["gradcam++"]
    assert condition_methods("gradcam+++twin") == ["gradcam++", "twin"]
    assert condition_methods("none") == []
    between = load_study_config(
        base(design="between", conditions=["twin"], tasks=["simulate"], show_prediction=False)
    )
    assert between.design == "between"


def test_missing_file_and_bad_yaml_are_clear(tmp_path):
    assert "does not exist" in error_of(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: [unclosed")
    assert "not valid YAML" in error_of(bad)
    scalar = tmp_path / "scalar.yaml"
    scalar.write_text("just a string")
    assert "expected a mapping" in error_of(scalar)


def test_known_condition_methods_are_the_explain_registry():
    """config.py reads the torch-free method catalogue; it must name exactly the registered explainers."""
    from trustlab.explain import EXPLAINERS
    from trustlab.studies.config.study import KNOWN_METHODS

    assert set(KNOWN_METHODS) == set(EXPLAINERS)


def test_validating_a_study_does_not_import_torch():
    """The method catalogue is torch-free, so the config (and the rater app's validation) stays light."""
    code = (
        "import sys, trustlab.studies.config.study as c; "
        "c.check_condition('gradcam++'); "
        "print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_hide_condition_hides_the_condition_from_raters():
    assert load_study_config(base(hide_condition=False)).hide_condition is False
    assert load_study_config(base()).hide_condition is True


def test_old_blind_condition_key_loads_with_a_deprecation_message(tmp_path, caplog, monkeypatch):
    from trustlab.studies.config import base as config_base

    monkeypatch.setattr(config_base, "_WARNED", set())  # reported once per process
    data = base()
    del data["hide_condition"]
    data["blind_condition"] = False
    path = tmp_path / "study.yaml"
    path.write_text(yaml.safe_dump(data))
    with caplog.at_level("WARNING", logger="trustlab"):
        config = load_study_config(path)
    assert config.hide_condition is False
    assert "`blind_condition` is deprecated, write `hide_condition` instead" in caplog.text


def test_old_and_new_condition_hiding_keys_together_are_an_error():
    message = error_of(base(blind_condition=True))
    assert "`blind_condition` and `hide_condition` are both set" in message
    assert "keep `hide_condition` only" in message
