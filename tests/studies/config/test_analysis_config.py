"""The study config's `analysis:` block: primary measure, contrasts and alpha, validated strictly."""

from __future__ import annotations

import pytest

from trustlab.studies.config.study import StudyConfigError, load_study_config

BASE = {
    "name": "s",
    "dataset": "d",
    "model": "m",
    "conditions": ["none", "gradcam", "twin"],
    "items": {"n": 20},
    "items_per_rater": 10,
}


def test_analysis_block_is_read():
    config = load_study_config(
        {
            **BASE,
            "analysis": {
                "primary": "error_detection_dprime",
                "contrasts": [["gradcam", "none"]],
                "alpha": 0.01,
            },
        }
    )
    assert config.analysis.primary == "error_detection_dprime"
    assert config.analysis.contrasts == [("gradcam", "none")] and config.analysis.alpha == 0.01
    default = load_study_config(BASE).analysis
    assert default.primary == "verification_accuracy" and default.contrasts is None and default.alpha == 0.05


@pytest.mark.parametrize(
    ("analysis", "message"),
    [
        ({"primary": "verificaton_accuracy"}, "did you mean 'verification_accuracy'"),
        ({"contrasts": [["lime", "none"]]}, "'lime', which is not among the study's conditions"),
        ({"contrasts": [["none", "none"]]}, "compares a condition with itself"),
        ({"contrasts": [["twin", "none"], ["none", "twin"]]}, "listed twice"),
        ({"contrasts": []}, "contrasts is empty"),
        ({"alpha": 0.7}, "analysis.alpha"),
        ({"primry": "x"}, "did you mean `primary`"),
    ],
)
def test_analysis_block_errors_name_the_fix(analysis, message):
    with pytest.raises(StudyConfigError, match=message):
        load_study_config({**BASE, "analysis": analysis})
