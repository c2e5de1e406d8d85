"""`analyze --labels current`: the frozen labels stay the primary analysis; the current (curated) labels
re-score true-label answers, model correctness and gold as a sensitivity analysis, side by side."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from tests.helpers.study_builders import make_study, simulate_in_db
from tests.helpers.synthetic_studies import study_data
from trustlab.db.engine import unit_of_work
from trustlab.db.queries.items import get_item
from trustlab.db.queries.labels import change_label
from trustlab.db.queries.studies import study_items
from trustlab.studies.analysis import analyze_study
from trustlab.studies.analysis.analyze import _jsonable, summarize
from trustlab.studies.analysis.load import StudyData
from trustlab.studies.analysis.outcomes import validate_judgements
from trustlab.studies.analysis.report.document import render_report
from trustlab.studies.analysis.truth import (
    check_labels,
    exclusions,
    label_changes,
    with_current_labels,
)

RELABELLED = [1, 2, 3, 4, 5]  # synthetic item ids whose curated label becomes "b"


def relabelled(data: StudyData, items=RELABELLED) -> StudyData:
    df = data.judgements.assign(current_label="a")
    df.loc[df["item_id"].isin(items), "current_label"] = "b"
    return StudyData(data.study, data.config, data.class_names, df, data.scores, data.model_name)


def test_current_labels_rescore_model_correctness_and_leave_the_input_alone():
    df = relabelled(study_data()).judgements
    before = df.copy()
    out = with_current_labels(df)
    pd.testing.assert_frame_equal(df, before)
    moved = df["item_id"].isin(RELABELLED).to_numpy()
    assert (out["true_label"][moved] == "b").all() and (out["true_label"][~moved] == "a").all()
    assert (out["model_correct"][moved] == (df["predicted_label"][moved] == "b")).all()
    assert (out["model_correct"][~moved].astype(bool) == df["model_correct"][~moved]).all()
    changes = label_changes(df)
    assert changes["items_changed"] == 5 and changes["model_correct_flipped"] == 5
    assert [c["item_id"] for c in changes["changed"]] == RELABELLED
    with pytest.raises(ValueError, match="current"):
        check_labels("latest")


def test_gold_answers_follow_the_current_label_and_so_do_exclusions():
    gold = {"model_correct": True, "true_label": "a", "simulated_label": "a"}
    df = pd.DataFrame(
        {
            "rater_id": [1, 1],
            "rater": ["r1", "r1"],
            "item_id": [7, 8],
            "is_gold": [True, True],
            "gold_answers": [gold, gold],
            "answers": [{"model_correct": False, "true_label": "b", "simulated_label": "a"}] * 2,
            "predicted_label": ["a", "a"],
            "true_label": ["a", "a"],
            "current_label": ["b", "b"],
            "model_correct": [True, True],
        }
    )
    config = study_data().config.model_copy(
        update={"gold": study_data().config.gold.model_copy(update={"n": 2, "max_failures": 1})}
    )
    current = with_current_labels(df)
    assert current["gold_answers"][0] == {"model_correct": False, "true_label": "b", "simulated_label": "a"}
    assert [r["rater_id"] for r in exclusions(df, config)[1]] == [1]  # fails both against frozen labels
    assert exclusions(current, config)[1] == []  # and passes both against the current ones
    assert label_changes(df)["gold_items_changed"] == 2


def test_summary_shows_frozen_and_current_side_by_side():
    data = relabelled(study_data({"primary": "verification_accuracy", "contrasts": [["gradcam", "none"]]}))
    frozen_only = _jsonable(summarize(data, replicates=20).summary)
    assert "sensitivity" not in frozen_only
    assert any("--labels current" in note and "5 rated items" in note for note in frozen_only["notes"])

    summary = json.loads(json.dumps(_jsonable(summarize(data, replicates=20, labels="current").summary)))
    assert set(summary) == set(frozen_only) | {"sensitivity"}
    # Every existing number is the primary (frozen) analysis, unchanged.
    assert summary["conditions"] == frozen_only["conditions"]
    assert summary["primary"] == frozen_only["primary"]
    block = summary["sensitivity"]["current_labels"]
    assert block["labels_changed"]["items_changed"] == 5
    for condition in ("none", "gradcam", "twin"):
        both = block["conditions"][condition]["verification_accuracy"]
        assert both["frozen"]["mean"] == summary["conditions"][condition]["verification_accuracy"]["mean"]
        # The current value is the share of verdicts that match predicted == current label.
        rows = validate_judgements(with_current_labels(data.judgements))
        rows = rows[(rows["condition"] == condition) & ~rows["cant_tell"]]
        assert both["current"]["mean"] == pytest.approx(rows["verify_correct"].mean())
        assert both["current"]["mean"] != both["frozen"]["mean"]
    [row] = block["primary"]["contrasts"]
    assert (row["a"], row["b"]) == ("gradcam", "none")
    assert row["frozen"]["diff"] == summary["primary"]["contrasts"][0]["diff"]
    assert row["current"]["diff"] is not None and row["current"]["p_holm"] is not None
    page = render_report(summary, None)
    assert "Sensitivity: frozen vs current labels" in page and "5 rated items" in page


def test_unchanged_labels_give_the_same_numbers():
    data = relabelled(study_data(), items=[])
    summary = _jsonable(summarize(data, replicates=20, labels="current").summary)
    block = summary["sensitivity"]["current_labels"]
    assert block["labels_changed"]["items_changed"] == 0
    for measures in block["conditions"].values():
        for both in measures.values():
            assert both["frozen"] == both["current"]
    for row in block["primary"]["contrasts"]:
        assert row["frozen"] == row["current"]


def test_analyze_labels_current_after_a_curator_relabels(settings, tmp_path):
    study = make_study(settings, items={"split": "test", "n": 12, "model_errors": 0.25})
    simulate_in_db(settings, study=study, n_raters=6, seed=1)
    with unit_of_work(settings) as s:
        first = next(si for si in study_items(s, study_id=study.id) if not si.is_gold)
        item = get_item(s, item_id=first.item_id)
        frozen_label = item.current_label
        new_label = next(c for c in ("square", "disc", "cross") if c != frozen_label)
        change_label(s, item=item, new_label=new_label, source="curator", actor="cur")
        s.commit()

    frozen = analyze_study(settings, study.name, tmp_path / "frozen", replicates=20)
    current = analyze_study(settings, study.name, tmp_path / "current", replicates=20, labels="current")
    assert "sensitivity" not in frozen
    assert current["conditions"] == frozen["conditions"]  # the primary analysis stays on frozen labels
    block = current["sensitivity"]["current_labels"]
    assert block["labels_changed"]["items_changed"] == 1
    assert block["labels_changed"]["changed"] == [
        {"item_id": first.item_id, "frozen": frozen_label, "current": new_label, "is_gold": False}
    ]
    on_disk = json.loads((tmp_path / "current" / "summary.json").read_text())
    assert on_disk["sensitivity"]["current_labels"]["labels_changed"]["items_changed"] == 1
    assert "frozen vs current labels" in (tmp_path / "current" / "report.html").read_text()
    # Where the relabelled item was judged, its verdicts count against the new truth.
    means = [
        (b["frozen"]["mean"], b["current"]["mean"])
        for measures in block["conditions"].values()
        for b in [measures["ai_alone_accuracy"]]
    ]
    assert any(f != c for f, c in means) and all(np.isfinite(c) for _, c in means)
