"""The one judgement pipeline: current judgements, frozen truth, one column list for every reader."""

from __future__ import annotations

import csv
import io

import pandas as pd

from tests.helpers.study_builders import add_judgement, make_raters, make_study
from trustlab.db.engine import unit_of_work
from trustlab.db.queries.items import get_item
from trustlab.db.queries.labels import merge_item_labels
from trustlab.db.queries.studies import study_items
from trustlab.db.schema import Judgement
from trustlab.studies.judgements import (
    EXPORT_COLUMNS,
    JUDGEMENT_COLUMNS,
    export_csv,
    export_table,
    judgements_frame,
    label_answers,
    model_correct,
    read_judgements,
)
from trustlab.studies.monitoring.export import export_study


def test_model_correct_prefers_the_frozen_value():
    assert model_correct(True, "cat", "dog") is True
    assert model_correct(None, "cat", "cat") is True
    assert model_correct(None, "cat", "dog") is False
    assert model_correct(None, None, "dog") is None


def test_empty_frame_has_every_column():
    df = judgements_frame([])
    assert list(df.columns) == JUDGEMENT_COLUMNS and df.empty
    assert list(export_table(df, model="m").columns) == EXPORT_COLUMNS


def _answer_then_change(settings, study, rater, item_id, first, second):
    """A judgement, then a changed answer that supersedes it (as the platform stores it)."""
    jid = add_judgement(settings, study_id=study.id, rater_id=rater, item_id=item_id, answers=first)
    with unit_of_work(settings) as s:
        old = s.get(Judgement, jid)
        s.add(Judgement(assignment_id=old.assignment_id, answers=second, idempotency_key=f"k{jid}",
                        supersedes_id=jid))
        s.commit()
    return jid


def test_current_judgements_and_the_frozen_truth(settings):
    study = make_study(settings)
    with unit_of_work(settings) as s:
        items = [si for si in study_items(s, study_id=study.id) if not si.is_gold]
        frozen = {si.item_id: si.label for si in items}
    assert all(frozen.values())  # study create froze every label
    first, second = items[0].item_id, items[1].item_id
    rater = make_raters(settings, study_id=study.id, n=1)[0]
    label = frozen[first]
    _answer_then_change(settings, study, rater, first, {"true_label": "nonsense"}, {"true_label": label})
    add_judgement(settings, study_id=study.id, rater_id=rater, item_id=second,
                  answers={"true_label": frozen[second], "cant_tell": True})

    # A curator merges the first item's class into a new one after the study was created.
    with unit_of_work(settings) as s:
        dataset_id = get_item(s, item_id=first).dataset_id
        merge_item_labels(s, dataset_id=dataset_id, sources=[label], into="merged", actor="cur")
        s.commit()

    with unit_of_work(settings) as s:
        current = read_judgements(s, study_id=study.id)
        every = read_judgements(s, study_id=study.id, include_superseded=True)
        answers = label_answers(s, study_id=study.id)
    assert len(current) == 2 and len(every) == 3
    assert every["superseded"].sum() == 1 and current["superseded"].sum() == 0
    row = current.set_index("item_id").loc[first]
    assert row["answer_true_label"] == label and row["earlier_answers"] == 1
    assert row["true_label"] == label and row["current_label"] == "merged"  # scored against the frozen truth
    assert bool(current.set_index("item_id").loc[second, "cant_tell"])
    assert answers == [(first, rater, label)]  # can't-tell answers name no class; superseded ones don't count


def test_both_exports_write_the_same_columns(settings, tmp_path):
    study = make_study(settings)
    with unit_of_work(settings) as s:
        item = next(si.item_id for si in study_items(s, study_id=study.id) if not si.is_gold)
    rater = make_raters(settings, study_id=study.id, n=1)[0]
    add_judgement(settings, study_id=study.id, rater_id=rater, item_id=item,
                  answers={"model_correct": True, "trust": 5, "comment": "=1+1"})
    paths = export_study(settings, study.name, tmp_path)
    cli_rows = list(csv.DictReader(paths["csv"].open(encoding="utf-8")))
    with unit_of_work(settings) as s:
        text = export_csv(export_table(read_judgements(s, study_id=study.id, include_superseded=True),
                                       model="cnn"))
    staff_rows = list(csv.DictReader(io.StringIO(text)))
    assert list(cli_rows[0]) == list(staff_rows[0]) == EXPORT_COLUMNS
    assert cli_rows[0]["answer_trust"] == staff_rows[0]["answer_trust"] == "5"
    assert cli_rows[0]["answer_model_correct"] == "1"
    assert pd.read_json(paths["jsonl"], lines=True)["answers"][0]["trust"] == 5
