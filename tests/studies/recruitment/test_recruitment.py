"""The recruitment parts of a study: the YAML fields validated like the rest, consent and
instructions files read at `study create` and stored, researcher-picked gold, codes made at create,
and the rules (which URL parameter is the pid, URLs filled in, when an attention check is due)."""

from __future__ import annotations

import pytest
import yaml

from tests.helpers.study_builders import make_study
from trustlab.db.engine import read_session
from trustlab.db.queries.participants import recruitment_codes
from trustlab.db.queries.studies import study_items
from trustlab.studies.config.study import StudyConfigError, load_study_config
from trustlab.studies.config.texts import DEFAULT_TEXTS, rater_texts
from trustlab.studies.design.create import StudyError, create_study
from trustlab.studies.recruitment import rules

ISSUE_YAML = """
name: crowd
dataset: shapes
model: cnn
items: {n: 10}
items_per_rater: 5
conditions: [none, gradcam]
recruitment:
  mode: link
  platform: prolific
  max_participants: 60
  completion_url: https://app.prolific.com/submissions/complete?cc={code}
  screenout_url: https://app.prolific.com/submissions/complete?cc={screenout_code}
consent: {file: consent.md}
instructions: {file: texts/instructions.md}
practice: {n: 3}
attention: [{prompt: "To show you read this, choose 'No'.", answer: {model_correct: false}}]
gold: {ids: [12, 40], max_failures: 1}
max_minutes: 45
texts: {submit: Weiter}
"""


@pytest.fixture
def study_yaml(tmp_path):
    (tmp_path / "consent.md").write_text("# Consent\nYou agree.\n", encoding="utf-8")
    (tmp_path / "texts").mkdir()
    (tmp_path / "texts" / "instructions.md").write_text("Say whether the model is right.", encoding="utf-8")
    path = tmp_path / "study.yaml"
    path.write_text(ISSUE_YAML, encoding="utf-8")
    return path


def error_of(config) -> str:
    with pytest.raises(StudyConfigError) as info:
        load_study_config(config)
    return str(info.value)


def test_the_issue_yaml_validates_and_reads_its_files(study_yaml):
    config = load_study_config(study_yaml)
    assert config.recruitment.mode == "link" and config.recruitment.pid_param == "PROLIFIC_PID"
    assert config.consent.text.startswith("# Consent") and config.consent.file == "consent.md"
    assert config.instructions.text == "Say whether the model is right."
    assert config.practice.count == 3 and config.gold.n == 2 and config.per_rater_total == 7
    assert config.max_minutes == 45 and rater_texts(config.texts)["submit"] == "Weiter"
    # The stored form holds the texts: reloading it needs no file.
    assert load_study_config(config.model_dump(mode="json")) == config


def test_every_new_field_is_optional_and_invite_stays_the_default():
    config = load_study_config(
        {"name": "s", "dataset": "d", "model": "m", "conditions": ["none"], "items": {"n": 40}}
    )
    assert config.recruitment.mode == "invite" and config.consent is None and config.attention == []
    assert config.practice.count == 0 and config.max_minutes is None and config.texts == {}


def test_errors_name_the_field_and_the_fix(study_yaml, tmp_path):
    data = yaml.safe_load(ISSUE_YAML)
    data["consent"] = {"file": "missing.md"}
    assert "consent.file: missing.md does not exist" in error_of({**data, "instructions": None})
    data = {**yaml.safe_load(ISSUE_YAML), "consent": {"text": "ok"}, "instructions": None}
    assert "did you mean `submit`" in error_of({**data, "texts": {"sumbit": "x"}})
    assert "recruitment.platfrom: unknown field; did you mean `platform`" in error_of(
        {**data, "recruitment": {"platfrom": "prolific"}}
    )
    assert "unknown placeholder(s) {cc}" in error_of(
        {**data, "recruitment": {"completion_url": "https://x.org/?cc={cc}"}}
    )
    assert "must start with https://" in error_of({**data, "recruitment": {"completion_url": "x.org/{code}"}})
    assert "recruitment.mode" in error_of({**data, "recruitment": {"mode": "public"}})
    assert "gold.ids lists an item twice" in error_of({**data, "gold": {"ids": [1, 1]}})
    assert "attention.0.answer" in error_of({**data, "attention": [{"prompt": "x", "answer": {}}]})
    assert "max_minutes" in error_of({**data, "max_minutes": 0})


def test_texts_cover_every_screen():
    assert {
        "submit",
        "consent_accept",
        "consent_decline",
        "full_title",
        "finished_body",
        "practice_wrong",
        "instructions_open",
        "timed_out_body",
    } <= set(DEFAULT_TEXTS)


def test_pid_and_platform_params_per_platform():
    prolific = load_study_config(yaml.safe_load(ISSUE_YAML) | {"consent": None, "instructions": None})
    pid, params = rules.split_params(
        prolific, {"PROLIFIC_PID": "p1", "STUDY_ID": "s", "SESSION_ID": "x", "study": "crowd", "evil": "y"}
    )
    assert pid == "p1" and params == {"STUDY_ID": "s", "SESSION_ID": "x"}
    mturk = prolific.model_copy(
        update={
            "recruitment": prolific.recruitment.model_copy(
                update={"platform": "mturk", "completion_url": None}
            )
        }
    )
    pid, params = rules.split_params(
        mturk,
        {"workerId": "W1", "assignmentId": "A1", "hitId": "H1", "turkSubmitTo": "https://www.mturk.com"},
    )
    assert pid == "W1" and params["assignmentId"] == "A1"
    assert rules.completion_url(mturk, codes=("C0DE", "S0"), pid=pid, params=params) == (
        "https://www.mturk.com/mturk/externalSubmit?assignmentId=A1&code=C0DE"
    )
    assert rules.split_params(prolific, {"pid": "generic"})[0] == "generic"
    _, evil = rules.split_params(
        mturk, {"workerId": "W", "assignmentId": "A", "turkSubmitTo": "https://evil.example"}
    )
    assert (
        "turkSubmitTo" not in evil
        and rules.completion_url(mturk, codes=("C", "S"), pid="W", params=evil) is None
    )
    assert rules.screenout_url(prolific, codes=("C", "S 1")) == (
        "https://app.prolific.com/submissions/complete?cc=S%201"
    )


def test_attention_checks_are_spread_through_the_items():
    assert rules.attention_positions(1, 10) == [5]
    assert rules.attention_positions(2, 9) == [3, 6]
    assert rules.attention_positions(3, 2) == [1, 1, 1]  # never after the last item
    assert rules.due_attention(2, total=9, done=3, answered=set()) == 0
    assert rules.due_attention(2, total=9, done=5, answered={0}) is None
    assert rules.due_attention(2, total=9, done=9, answered={0}) == 1


def test_create_reads_researcher_gold_and_makes_codes(sqlite_settings):
    study = make_study(sqlite_settings, open_it=False, name="plain")
    with read_session(sqlite_settings) as s:
        regular = {si.item_id for si in study_items(s, study_id=study.id)}
        assert recruitment_codes(s, study_id=study.id) is None  # invite mode: no codes
    spare = sorted(set(range(1, 30)) - regular)[:2]
    crowd = create_study(
        sqlite_settings,
        {
            "name": "crowd",
            "dataset": "shapes",
            "model": "cnn",
            "items": {"n": 12, "model_errors": 0.25},
            "conditions": ["none", "gradcam", "twin"],
            "items_per_rater": 6,
            "raters_per_item": 3,
            "tasks": ["verify", "true_label", "trust"],
            "recruitment": {"mode": "link", "completion_code": "MYCODE"},
            "gold": {"ids": spare, "max_failures": 1},
        },
        allow_unbalanced=True,
    )
    with read_session(sqlite_settings) as s:
        gold = sorted(si.item_id for si in study_items(s, study_id=crowd.id) if si.is_gold)
        codes = recruitment_codes(s, study_id=crowd.id)
        assert gold == sorted(spare)
        assert codes is not None and len(codes.screenout_code) == 8
        assert (
            rules.ensure_codes(
                s, study_id=crowd.id, config=load_study_config(crowd.config), now=codes.created_at
            )[0]
            == "MYCODE"
        )
    with pytest.raises(StudyError, match="gold.ids: item"):
        create_study(
            sqlite_settings,
            {
                "name": "crowd2",
                "dataset": "shapes",
                "model": "cnn",
                "items": {"ids": sorted(regular)[:6]},
                "conditions": ["none"],
                "items_per_rater": 6,
                "gold": {"ids": [sorted(regular)[0]]},
                "tasks": ["verify"],
            },
            allow_unbalanced=True,
        )
