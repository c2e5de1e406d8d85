"""`study preregister`: the OSF template's sections in order, with the study's own numbers."""

from __future__ import annotations

import re

import yaml
from typer.testing import CliRunner

from tests.helpers.study_builders import make_study
from trustlab.cli import _load_verbs
from trustlab.cli.app import app
from trustlab.studies.analysis.inference import METHOD
from trustlab.studies.config.study import load_study_config
from trustlab.studies.design.create import study_balance
from trustlab.studies.design.power import study_power
from trustlab.studies.design.prereg import SECTIONS, preregister, sample_size

CONFIG = {
    "name": "prereg",
    "dataset": "shapes",
    "model": "cnn",
    "items": {"n": 48, "model_errors": 0.3},
    "conditions": ["none", "gradcam", "twin"],
    "raters_per_item": 6,
    "items_per_rater": 24,
    "tasks": ["verify", "trust"],
    "gold": {"n": 2, "max_failures": 1},
    "seed": 17,
    "analysis": {
        "primary": "verification_accuracy",
        "contrasts": [["gradcam", "none"], ["twin", "none"]],
        "alpha": 0.05,
    },
}


def section(text: str, title: str) -> str:
    start = text.index(f"## {title}")
    following = [text.index(f"## {s}") for s in SECTIONS if text.index(f"## {s}") > start]
    return text[start : min(following, default=len(text))]


def test_preregistration_of_a_yaml_has_each_section_and_the_numbers(sqlite_settings, tmp_path):
    path = tmp_path / "study.yaml"
    path.write_text(yaml.safe_dump(CONFIG))
    text = preregister(sqlite_settings, path, effect=0.12, sims=40, seed=5, raters=[24])
    positions = [text.index(f"## {s}") for s in SECTIONS]
    assert positions == sorted(positions)  # the OSF template's order

    info = section(text, "1. Study information")
    assert "**H1**: verification_accuracy differs between `gradcam` and `none`" in info
    assert "**H2**" in info and "`twin`" in info

    design = section(text, "2. Design plan")
    assert "within-subject; 48 items (30% of them model errors" in design
    assert "Seed **17**" in design
    # Balance table: 12 raters x 24 items = 288 assignments, 96 per condition, errors equal.
    rows = re.findall(r"^\| (\w+) \| (\d+) \| (\d+) \| ([\d.]+) \|$", design, flags=re.M)
    assert [(c, int(n)) for c, n, _, _ in rows] == [("none", 96), ("gradcam", 96), ("twin", 96)]
    assert len({e for _, _, e, _ in rows}) == 1 and "Balanced." in design

    sampling = section(text, "3. Sampling plan")
    config = load_study_config(CONFIG)
    assert sample_size(config) == 12
    assert "**Sample size.** 12 raters" in sampling and "288 regular judgements" in sampling
    [planned, extra] = study_power(config, effect=0.12, raters=[12, 24], sims=40, seed=5)
    assert f"power **{planned.power:.2f}** at 12 raters (40 simulated studies)" in sampling
    assert f"| 24 | 12 | 576 | 40 | {extra.power:.2f} |" in sampling
    assert "effect of +0.12" in sampling and "α = 0.05" in sampling and "stated defaults" in sampling

    assert "`verification_accuracy`" in section(text, "4. Variables")
    analysis = section(text, "5. Analysis plan")
    assert f"**Statistical model.** {METHOD}." in analysis
    assert (
        "2 confirmatory contrast(s), one family under Holm's correction at family-wise α = 0.05" in analysis
    )
    assert "gold.n = 2, max_failures = 1" in analysis and "--labels current" in analysis


def test_preregister_verb_for_a_created_study(sqlite_settings, tmp_path, monkeypatch):
    monkeypatch.setenv("TRUSTLAB_HOME", str(sqlite_settings.home))
    monkeypatch.delenv("TRUSTLAB_DB_URL", raising=False)
    study = make_study(sqlite_settings, open_it=False, seed=3)
    balance = study_balance(sqlite_settings, study.name)
    _load_verbs()
    out = tmp_path / "prereg.md"
    args = ["study", "preregister", study.name, "--out", str(out), "--sims", "10"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    text = out.read_text()
    assert "Realised by `study create`" in text and "Seed **3**" in text
    for condition, row in balance["conditions"].items():
        assert f"| {condition} | {row['assignments']} | {row['errors']} |" in text
    assert all(f"## {s}" in text for s in SECTIONS)
    missing = CliRunner().invoke(app, ["study", "preregister", "nope", "--out", str(out)])
    assert missing.exit_code != 0 and "nope" in missing.output
