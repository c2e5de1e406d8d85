"""Agreement end to end: published examples entered as raters' answers, read back from summary.json."""

from __future__ import annotations

import json

import krippendorff
import numpy as np
import pytest

from tests.helpers.study_builders import add_judgement, make_raters, make_study
from trustlab.db.engine import unit_of_work
from trustlab.db.queries.studies import study_items
from trustlab.studies.analysis import analyze_study

# Wikipedia, "Fleiss' kappa", worked example: 10 items, 14 raters, 5 categories; kappa = 0.210.
FLEISS_TABLE = [
    [0, 0, 0, 0, 14],
    [0, 2, 6, 4, 2],
    [0, 0, 3, 5, 6],
    [0, 3, 9, 2, 0],
    [2, 2, 8, 1, 1],
    [7, 7, 0, 0, 0],
    [3, 2, 6, 3, 0],
    [2, 5, 3, 2, 2],
    [6, 5, 2, 1, 0],
    [0, 2, 2, 3, 7],
]
# Wikipedia, "Krippendorff's alpha", example: 3 coders x 15 units (None = missing);
# nominal alpha = 0.691, interval alpha = 0.811.
KRIPPENDORFF_DATA = [
    [None, None, None, None, None, 3, 4, 1, 2, 1, 1, 3, 3, None, 3],
    [1, None, 2, 1, 3, 3, 4, 3, None, None, None, None, None, None, None],
    [None, None, 2, 1, 3, 4, 4, None, 2, 1, 1, 3, 3, None, 4],
]


def regular_items(settings, study_id):
    with unit_of_work(settings) as s:
        return [si.item_id for si in study_items(s, study_id=study_id) if not si.is_gold]


def test_fleiss_example_end_to_end(settings, tmp_path):
    classes = ("c1", "c2", "c3", "c4", "c5")
    study = make_study(
        settings,
        classes=classes,
        per_class={"train": 1, "test": 2},
        conditions=["none"],
        items={"split": "test", "n": 10, "model_errors": None},
        raters_per_item=14,
        items_per_rater=10,
        tasks=["true_label"],
    )
    raters = make_raters(settings, study_id=study.id, n=14)
    for item_id, counts in zip(regular_items(settings, study.id), FLEISS_TABLE, strict=True):
        answers = [classes[c] for c, n in enumerate(counts) for _ in range(n)]
        for rater_id, label in zip(raters, answers, strict=True):
            add_judgement(
                settings,
                study_id=study.id,
                rater_id=rater_id,
                item_id=item_id,
                answers={"true_label": label, "cant_tell": False},
            )
    analyze_study(settings, study.name, tmp_path / "out", replicates=50)
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    kappa = summary["agreement"]["true_label"]["fleiss_kappa"]["value"]
    assert kappa == pytest.approx(0.210, abs=0.0005)
    assert summary["conditions"]["none"]["n"] == 140
    assert summary["agreement"]["trust"]["krippendorff_alpha_interval"]["value"] is None  # no trust task


def test_krippendorff_example_end_to_end(settings, tmp_path):
    classes = ("v1", "v2", "v3", "v4")
    study = make_study(
        settings,
        classes=classes,
        per_class={"train": 1, "test": 4},
        conditions=["none"],
        items={"split": "test", "n": 15, "model_errors": None},
        raters_per_item=3,
        items_per_rater=15,
        tasks=["true_label", "trust"],
        likert_points=5,
    )
    raters = make_raters(settings, study_id=study.id, n=3)
    items = regular_items(settings, study.id)
    for rater_id, row in zip(raters, KRIPPENDORFF_DATA, strict=True):
        for item_id, value in zip(items, row, strict=True):
            if value is not None:
                add_judgement(
                    settings,
                    study_id=study.id,
                    rater_id=rater_id,
                    item_id=item_id,
                    answers={"true_label": f"v{value}", "trust": value, "cant_tell": False},
                )
    summary = analyze_study(settings, study.name, tmp_path / "out", replicates=50)
    on_disk = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert on_disk["agreement"] == summary["agreement"]
    nominal = on_disk["agreement"]["true_label"]["krippendorff_alpha_nominal"]["value"]
    interval = on_disk["agreement"]["trust"]["krippendorff_alpha_interval"]["value"]
    assert nominal == pytest.approx(0.691, abs=0.0005)
    assert interval == pytest.approx(0.811, abs=0.0005)
    ordinal = on_disk["agreement"]["trust"]["krippendorff_alpha_ordinal"]["value"]
    data = np.array([[np.nan if v is None else v for v in row] for row in KRIPPENDORFF_DATA], float)
    assert ordinal == pytest.approx(krippendorff.alpha(reliability_data=data, level_of_measurement="ordinal"))
    fleiss = on_disk["agreement"]["true_label"]["fleiss_kappa"]
    assert fleiss["value"] is None and "same number" in fleiss["reason"]


def test_unanimous_ratings_give_undefined_agreement_without_library_warnings():
    """Everyone giving the same class makes chance agreement 1: kappa and alpha are undefined, said in
    words, and no statsmodels RuntimeWarning reaches the terminal of `analyze`."""
    import warnings

    import pandas as pd

    from trustlab.studies.analysis.agreement import fleiss, krippendorff_alpha

    df = pd.DataFrame({"item_id": [1, 1, 2, 2, 3, 3], "rater_id": [1, 2] * 3, "answer": ["cat"] * 6})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        kappa = fleiss(df, "answer")
        alpha = krippendorff_alpha(df, "answer", "nominal")
    assert kappa == {"value": None, "reason": "every rating is the same ('cat'): Fleiss' kappa is undefined"}
    assert alpha["value"] is None and "same value" in alpha["reason"]
