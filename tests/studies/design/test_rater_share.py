"""Every rater's list holds the study's model-error share, with both kinds of item
under every condition as far as the list's length allows, whatever the arrival order, dropouts and
returns; `study create` refuses a max_participants that cannot fill the design; every message names
the same number of raters."""

from __future__ import annotations

import math
import re
from collections import Counter
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
import yaml
from sqlalchemy import select
from typer.testing import CliRunner

from tests.helpers.builders import make_image_dataset
from tests.helpers.study_builders import complete, make_model, make_raters, make_study, study_config
from trustlab.cli import _load_verbs
from trustlab.cli.app import app
from trustlab.db.engine import unit_of_work
from trustlab.db.queries.studies import study_items
from trustlab.db.schema import Assignment, StudyItem
from trustlab.demo.plan import FAST, FULL
from trustlab.demo.plan import study_config as demo_study_config
from trustlab.studies.config.study import load_study_config
from trustlab.studies.design.assign import item_groups, next_assignment, plan_rater
from trustlab.studies.design.balance import realised_balance
from trustlab.studies.design.create import UnbalancedDesign, create_study

# A link study with a model-error share, as a dict (texts inline instead of files).
ISSUE_STUDY = {
    "name": "crowd-trust",
    "dataset": "demo",
    "model": "cnn-demo",
    "items": {"split": "test", "n": 12, "model_errors": 0.3},
    "conditions": ["none", "gradcam", "lime", "twin"],
    "design": "within",
    "raters_per_item": 8,
    "items_per_rater": 8,
    "tasks": ["verify", "true_label", "trust", "helpfulness", "confidence", "comment"],
    "show_prediction": True,
    "hide_condition": True,
    "seed": 1,
    "recruitment": {
        "mode": "link",
        "platform": "prolific",
        "max_participants": 8,
        "completion_url": "https://app.prolific.com/submissions/complete?cc={code}",
    },
    "consent": {"text": "You agree to rate pictures."},
    "instructions": {"text": "Say whether the model is right."},
    "practice": {"n": 2},
    "attention": [{"prompt": "To show you read this, choose 'No'.", "answer": {"model_correct": False}}],
    "gold": {"n": 2, "max_failures": 1},
}
STUDIES = {"issue": ISSUE_STUDY, "demo-fast": demo_study_config(FAST), "demo-full": demo_study_config(FULL)}


def within_one(errors: int, length: int, share: float) -> bool:
    """errors is length x share rounded down or up."""
    exact = length * share
    return math.floor(exact + 1e-9) <= errors <= math.ceil(exact - 1e-9)


def assert_rater_list(mine, wrong, conditions, per_rater, share):
    """One rater's regular (item, condition) list holds the share, and both kinds under every
    condition as far as its errors and right items reach (errors per condition differ by one)."""
    errors = sum(i in wrong for i, _ in mine)
    assert within_one(errors, len(mine), share), (errors, len(mine), share)
    if len(mine) == per_rater:
        per_condition = Counter(c for i, c in mine if i in wrong)
        rights = Counter(c for i, c in mine if i not in wrong)
        assert sum(per_condition[c] > 0 for c in conditions) == min(len(conditions), errors)
        assert sum(rights[c] > 0 for c in conditions) == min(len(conditions), len(mine) - errors)
        assert max(per_condition[c] for c in conditions) - min(per_condition[c] for c in conditions) <= 1


def fake_items(config, seed):
    """The study's regular items (round(model_errors x n) errors, which ones seeded) and 2 gold."""
    n = config.items.count
    size = round(config.items.model_errors * n)
    wrong = set(np.random.default_rng(seed).choice(n, size=size, replace=False))
    rows = [StudyItem(item_id=i, is_gold=False, model_correct=i not in wrong) for i in range(n)]
    return rows + [StudyItem(item_id=1000 + j, is_gold=True, model_correct=True) for j in range(2)]


def simulate(config, items, *, drop_every: int, seed: int):
    """Raters arrive one at a time until the study is full; every ``drop_every``-th one (0: none)
    rates a seeded few of their items and drops out (the rest released). Returns the lists as made."""
    cycles, gold = item_groups(config, items)
    rng = np.random.default_rng(seed)
    counts: Counter = Counter()
    made = []
    for k in range(200):
        plan = plan_rater(
            config=config, groups=cycles, gold_ids=gold, counts=dict(counts), arrival_index=k,
            rater_id=int(rng.integers(1, 10**6)),
        )
        regular = [(p.item_id, p.condition) for p in plan if not p.is_gold]
        if not regular:
            break
        made.append(regular)
        drops = drop_every and k % drop_every == 1
        kept = regular[: int(rng.integers(0, len(regular)))] if drops else regular
        counts.update(kept)
    return made, counts


@pytest.mark.parametrize("study", list(STUDIES))
@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("drop_every", [0, 2, 3])
def test_every_rater_gets_the_study_error_share(study, seed, drop_every):
    config = load_study_config({**STUDIES[study], "seed": seed})
    items = fake_items(config, seed)
    wrong = {si.item_id for si in items if not si.is_gold and not si.model_correct}
    share = len(wrong) / config.items.count
    made, counts = simulate(config, items, drop_every=drop_every, seed=seed)
    for mine in made:
        assert_rater_list(mine, wrong, config.conditions, config.items_per_rater, share)
    totals = Counter()
    for (item_id, _), n in counts.items():
        totals[item_id] += n
    assert set(totals.values()) == {config.raters_per_item}  # every item rated as asked, none over
    if not drop_every:  # raters arriving in turn: the lists are the realised balance's
        result = realised_balance(config, items)
        assert result["raters"] == len(made) and result["rater_errors"]["off_share"] == 0


def test_the_issue_study_no_longer_gives_four_raters_the_same_error_free_items():
    config = load_study_config(ISSUE_STUDY)
    items = fake_items(config, 1)
    wrong = {si.item_id for si in items if not si.is_gold and not si.model_correct}
    made, _ = simulate(config, items, drop_every=0, seed=1)
    first_four = made[:4]
    assert len({frozenset(i for i, _ in mine) for mine in first_four}) == 4
    assert all(sum(i in wrong for i, _ in mine) in (2, 3) for mine in first_four)  # 8 x 4/12
    result = realised_balance(config, items)
    assert result["rater_errors"]["fewest"] == 2 and result["rater_errors"]["most"] == 3
    # 2 items per condition and 2-3 errors cannot show every condition an error: said, with the fix.
    assert any("items_per_rater 12 would show both" in note for note in result["notes"])


def arrive(settings, study_id, rater_id, now=None):
    with unit_of_work(settings) as s:
        return next_assignment(s, study_id=study_id, rater_id=rater_id, now=now)


def rater_rows(settings, study_id):
    with unit_of_work(settings) as s:
        rows = list(s.scalars(select(Assignment).where(Assignment.study_id == study_id)))
        facts = study_items(s, study_id=study_id)
    return rows, {si.item_id for si in facts if not si.is_gold and si.model_correct is False}


@pytest.mark.parametrize("seed", [0, 3])
def test_dropouts_and_returns_keep_every_list_at_the_share(settings, seed):
    """The issue's study in the database: raters arrive in a seeded order; every fourth rates one item
    and goes quiet (their items are released when the next rater arrives); one of them comes back
    and gets back as many released items as keep their list at the share."""
    study = make_study(
        settings, **{**ISSUE_STUDY, "dataset": "shapes", "model": "cnn", "seed": seed}, timeout_minutes=30
    )
    raters = make_raters(settings, study_id=study.id, n=20)
    order = [raters[j] for j in np.random.default_rng(seed).permutation(len(raters))]
    long_ago = datetime.now(UTC) - timedelta(hours=2)
    quiet = order[1::4]
    for position, rater_id in enumerate(order):
        first = arrive(settings, study.id, rater_id, now=long_ago if rater_id in quiet else None)
        if first is not None and rater_id in quiet:
            answer = {"model_correct": True, "true_label": "disc", "trust": 4}
            complete(settings, first.id, answer, when=long_ago)
        if position == 4:  # the first quiet rater comes back after three more arrivals
            assert arrive(settings, study.id, quiet[0]) is not None
    rows, wrong = rater_rows(settings, study.id)
    share = len(wrong) / 12
    lists: dict[int, list] = {}
    for a in sorted(rows, key=lambda a: a.position):
        if not a.is_gold:
            lists.setdefault(a.rater_id, []).append(a)
    assert len(lists) > 12  # the released items went to more raters
    for mine in lists.values():
        made = [(a.item_id, a.condition) for a in mine]
        assert_rater_list(made, wrong, ISSUE_STUDY["conditions"], 8, share)
    back = [a for a in lists[quiet[0]] if a.status != "released"]
    assert len(back) > 1 and within_one(sum(a.item_id in wrong for a in back), len(back), share)
    per_item = Counter(a.item_id for a in rows if not a.is_gold and a.status != "released")
    assert max(per_item.values()) <= 8


def test_study_create_refuses_too_few_places_naming_the_numbers(sqlite_settings, tmp_path, monkeypatch):
    monkeypatch.setenv("TRUSTLAB_HOME", str(sqlite_settings.home))
    monkeypatch.delenv("TRUSTLAB_DB_URL", raising=False)
    dataset_id = make_image_dataset(
        sqlite_settings, name="shapes", classes=("square", "disc", "cross"), per_class={"train": 1, "test": 8}
    )
    make_model(sqlite_settings, dataset_id=dataset_id)
    config = {**ISSUE_STUDY, "dataset": "shapes", "model": "cnn"}
    with pytest.raises(UnbalancedDesign) as refused:
        create_study(sqlite_settings, config)
    message = str(refused.value)
    assert "recruitment.max_participants (8) cannot fill the design: 12 raters are needed" in message
    assert "raise max_participants to 12" in message
    assert "items_per_rater: 12 (8 raters)" in message and "recruitment.max_participants: 12" in message
    path = tmp_path / "study.yaml"
    path.write_text(yaml.safe_dump(config))
    _load_verbs()
    runner = CliRunner()
    refused_cli = runner.invoke(app, ["study", "create", str(path)])
    assert refused_cli.exit_code != 0
    assert "12 raters are needed" in " ".join(refused_cli.output.split())
    created = runner.invoke(app, ["study", "create", str(path), "--allow-unbalanced"])
    assert created.exit_code == 0, created.output
    text = " ".join(created.output.split())
    assert "warning: recruitment.max_participants (8) cannot fill the design" in text
    assert "created study crowd-trust" in text
    shown = runner.invoke(app, ["study", "balance", "crowd-trust"])
    assert shown.exit_code == 0, shown.output
    assert "Model errors per rater: 2-3" in " ".join(shown.output.split())


@pytest.mark.parametrize(
    "numbers",
    [
        {"raters_per_item": 6, "items_per_rater": 8},  # the fast demo's numbers (9 full lists)
        {"raters_per_item": 5, "items_per_rater": 5},  # 12 full lists of 5
        {"raters_per_item": 3, "items_per_rater": 8},  # 4.5 full lists
    ],
)
def test_study_create_names_one_number_of_raters(sqlite_settings, tmp_path, monkeypatch, numbers):
    monkeypatch.setenv("TRUSTLAB_HOME", str(sqlite_settings.home))
    monkeypatch.delenv("TRUSTLAB_DB_URL", raising=False)
    dataset_id = make_image_dataset(
        sqlite_settings, name="shapes", classes=("square", "disc", "cross"), per_class={"train": 1, "test": 8}
    )
    make_model(sqlite_settings, dataset_id=dataset_id)
    config = study_config(
        items={"split": "test", "n": 12, "model_errors": 0.3},
        conditions=["none", "gradcam", "lime", "twin"],
        gold={"n": 2, "max_failures": 1},
        **numbers,
    )
    path = tmp_path / "study.yaml"
    path.write_text(yaml.safe_dump(config))
    _load_verbs()
    result = CliRunner().invoke(app, ["study", "create", str(path)])
    text = " ".join(result.output.split())
    printed = re.findall(r"(\d+) raters fill the study", text)
    named = re.findall(r"\bthe (\d+) raters\b", text) + re.findall(r"(\d+(?:\.\d+)?) raters would", text)
    assert printed, text
    assert set(printed + named) == {printed[0]}, text
