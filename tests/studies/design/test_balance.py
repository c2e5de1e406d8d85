"""Balanced designs: Williams orders, stratified item groups, the realised balance of a
study's numbers, and `study create` refusing numbers that cannot balance (naming the nearest ones)."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from tests.helpers.builders import make_image_dataset
from tests.helpers.study_builders import make_model, study_config
from trustlab.cli import _load_verbs
from trustlab.cli.app import app
from trustlab.db.schema import StudyItem
from trustlab.studies.config.study import load_study_config
from trustlab.studies.design.balance import nearest_balanced, problems, realised_balance
from trustlab.studies.design.create import UnbalancedDesign, create_study
from trustlab.studies.design.orders import pair_at, seeded_kinds, williams_rows

README_NUMBERS = {
    "conditions": ["none", "gradcam", "lime", "twin", "gradcam+twin"],
    "items": {"split": "test", "n": 60, "model_errors": 0.3},
    "raters_per_item": 5,
    "items_per_rater": 40,
    "gold": {"n": 4, "max_failures": 1},
}


@pytest.mark.parametrize("n", range(1, 9))
def test_williams_rows_balance_position_and_carry_over(n):
    rows = williams_rows(n)
    assert len(rows) == (2 * n if n % 2 and n > 1 else n)
    assert all(sorted(row) == list(range(n)) for row in rows)
    for position in range(n):  # every condition at every position equally often
        assert Counter(row[position] for row in rows) == {c: len(rows) // n for c in range(n)}
    pairs = Counter((a, b) for row in rows for a, b in zip(row, row[1:], strict=False))
    if n > 1:  # every condition follows every other equally often
        assert len(pairs) == n * (n - 1) and len(set(pairs.values())) == 1


@pytest.mark.parametrize("descending", [False, True])
def test_pair_sequence_runs_name_distinct_items_and_even_conditions(descending):
    for n_items in range(1, 13):
        for n_cond in range(1, 6):
            period = n_items * n_cond
            pairs = [pair_at(t, n_items, n_cond, descending=descending) for t in range(3 * period)]
            every = {(i, c) for i in range(n_items) for c in range(n_cond)}
            for periods in (1, 2, 3):  # from the start, every pair equally often
                assert Counter(pairs[: periods * period]) == dict.fromkeys(every, periods)
            for length in range(1, n_items):
                for start in range(2 * period):
                    run = pairs[start : start + length]
                    assert len({i for i, _ in run}) == length
                    per = Counter(c for _, c in run)
                    assert max(per[c] for c in range(n_cond)) - min(per[c] for c in range(n_cond)) <= 1


def test_seeded_kinds_split_errors_from_right_items():
    rng = np.random.default_rng(0)
    items = [(i, bool(rng.random() > 0.3)) for i in range(61)]
    errors, rights = seeded_kinds(items, seed=2)
    correct = dict(items)
    assert sorted(errors) == [i for i in range(61) if not correct[i]]
    assert sorted(rights) == [i for i in range(61) if correct[i]]
    assert (errors, rights) == seeded_kinds(items, seed=2) != seeded_kinds(items, seed=3)


def fake_items(n: int, errors: int, gold: int = 0) -> list[StudyItem]:
    rows = [StudyItem(item_id=i, is_gold=False, model_correct=i >= errors) for i in range(n)]
    return rows + [StudyItem(item_id=1000 + j, is_gold=True, model_correct=True) for j in range(gold)]


def config_of(**numbers) -> object:
    base = {"name": "s", "dataset": "d", "model": "m", **README_NUMBERS, **numbers}
    return load_study_config(base)


BALANCED = [  # (conditions, items, raters per item, items per rater, model errors, design)
    (5, 60, 5, 30, 18, "within"),
    (5, 80, 5, 40, 24, "within"),
    (4, 40, 12, 20, 12, "within"),
    (4, 16, 4, 8, 5, "within"),
    (3, 12, 3, 6, 4, "within"),
    (3, 48, 6, 24, 13, "within"),
    (2, 40, 2, 20, 11, "within"),
    (2, 30, 4, 12, 9, "within"),
    (3, 30, 3, 10, 9, "between"),
    (2, 40, 4, 20, 7, "between"),
]


@pytest.mark.parametrize(("c", "n", "r", "m", "errors", "design"), BALANCED)
@pytest.mark.parametrize("seed", [0, 1, 5])
def test_balanced_numbers_realise_a_balanced_design(c, n, r, m, errors, design, seed):
    conditions = ["none", "gradcam", "lime", "twin", "gradcam+twin"][:c]
    config = config_of(
        conditions=conditions,
        items={"split": "test", "n": n, "model_errors": errors / n},
        raters_per_item=r,
        items_per_rater=m,
        design=design,
        seed=seed,
        gold={"n": 0, "max_failures": 0},
    )
    assert problems(config) == []
    result = realised_balance(config, fake_items(n, errors))
    assert result["balanced"], result["problems"]
    assert result["raters"] == result["full_raters"] == n * r // m
    assert result["items_every_condition"] == result["items_equal"] == n
    assert {row["errors"] for row in result["conditions"].values()} == {errors * r // c}
    assert result["error_spread"] == 0 and result["rater_error_spread"] <= 1
    assert result["rater_condition_spread"] == 0 and result["position_spread"] == 0


def test_readme_numbers_cannot_balance_and_the_nearest_ones_can():
    config = config_of()
    found = problems(config)
    assert any("the ratings make 7.50 full lists" in p for p in found)
    assert nearest_balanced(config) == [
        "items_per_rater: 30 (10 raters)",
        "items.n: 80 (10 raters)",
        "raters_per_item: 20 (30 raters)",
    ]
    for numbers in ({"items_per_rater": 30}, {"items": {"split": "test", "n": 80}}, {"raters_per_item": 20}):
        assert problems(config_of(**numbers)) == []
    # Still, the errors are shared out evenly where the workload cannot be.
    result = realised_balance(config, fake_items(60, 18, gold=4))
    assert not result["balanced"] and result["error_spread"] <= 1 and result["rater_error_spread"] <= 1


def test_study_create_refuses_unbalanced_numbers_naming_the_nearest(sqlite_settings, tmp_path, monkeypatch):
    monkeypatch.setenv("TRUSTLAB_HOME", str(sqlite_settings.home))
    monkeypatch.delenv("TRUSTLAB_DB_URL", raising=False)
    dataset_id = make_image_dataset(
        sqlite_settings,
        name="shapes",
        classes=("square", "disc", "cross"),
        per_class={"train": 1, "test": 30},
    )
    make_model(sqlite_settings, dataset_id=dataset_id)
    config = study_config(**README_NUMBERS)
    with pytest.raises(
        UnbalancedDesign, match=r"Nearest balanced numbers: items_per_rater: 30 \(10 raters\)"
    ):
        create_study(sqlite_settings, config)
    path = tmp_path / "study.yaml"
    path.write_text(yaml.safe_dump(config))
    _load_verbs()
    runner = CliRunner()
    refused = runner.invoke(app, ["study", "create", str(path)])
    assert refused.exit_code != 0
    assert "realised balance" in refused.output and "gradcam+twin" in refused.output
    assert "cannot balance" in refused.output and "items_per_rater: 30 (10 raters)" in refused.output
    assert "--allow-unbalanced" in refused.output
    created = runner.invoke(app, ["study", "create", str(path), "--allow-unbalanced"])
    assert created.exit_code == 0, created.output
    assert "created study s1" in created.output and "realised balance" in created.output
    path.write_text(yaml.safe_dump(study_config(**{**README_NUMBERS, "name": "s2", "items_per_rater": 30})))
    balanced = runner.invoke(app, ["study", "create", str(path)])
    assert balanced.exit_code == 0, balanced.output
    assert "60/60 items get every condition" in " ".join(balanced.output.split())


def test_the_readme_example_study_validates_and_balances():
    """The study YAML a researcher copies from the README must be accepted as it is."""
    import re
    from pathlib import Path

    from trustlab.studies.design.balance import problems

    readme = (Path(__file__).resolve().parents[3] / "docs" / "studies.md").read_text(encoding="utf-8")
    block = next(b for b in re.findall(r"```yaml\n(.*?)```", readme, re.S) if "name: demo-trust" in b)
    config = load_study_config(yaml.safe_load(block))
    assert problems(config) == []
