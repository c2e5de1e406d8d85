"""Evaluate, compare, predict and cross-validated predictions: files, rows, resumability, refusals."""

from __future__ import annotations

import pandas as pd
import pytest
from sqlalchemy import delete, update

from tests.helpers.builders import make_image_dataset
from trustlab.db.engine import unit_of_work
from trustlab.db.queries.items import list_items
from trustlab.db.queries.labels import ensure_labels
from trustlab.db.queries.models import get_model_version
from trustlab.db.queries.predictions import list_predictions
from trustlab.db.schema import Item, Prediction
from trustlab.models.compare import compare_models
from trustlab.models.crossval import crossval_predict
from trustlab.models.errors import DataError
from trustlab.models.evaluate import evaluate_model
from trustlab.models.predict import predict_model
from trustlab.models.train import TrainConfig, train_model

pytestmark = pytest.mark.usefixtures("one_torch_thread")

SIZE = 32
FAST = {"img_size": SIZE, "batch_size": 8}




def _trained(settings, name="m", epochs=2, dataset="shapes", **kw):
    return train_model(settings, TrainConfig.of(dataset=dataset, arch="simple_cnn", name=name,
                                                epochs=epochs, **FAST, **kw), progress=False)


def test_evaluate_writes_files_and_stores_metrics(settings):
    make_image_dataset(settings, size=SIZE)
    _trained(settings)
    result = evaluate_model(settings, model="m", split="test", progress=False)
    m = result.metrics
    assert m["n"] == 8 and 0 <= m["accuracy"] <= 1
    assert set(m["per_class"]) == {"square", "disc"}
    assert sum(map(sum, m["confusion"])) == 8
    files = {p.name for p in result.out_dir.iterdir()}
    assert {"metrics.json", "per_class.csv", "confusion_matrix.csv", "confusion_matrix.png",
            "misclassified.csv", "predictions.csv"} <= files
    assert result.out_dir == settings.models_dir / "m" / "eval_test"
    confusion = pd.read_csv(result.out_dir / "confusion_matrix.csv", index_col=0)
    assert confusion.to_numpy().tolist() == m["confusion"]
    wrong = pd.read_csv(result.out_dir / "misclassified.csv")
    assert len(wrong) == m["n_misclassified"]
    assert list(wrong.columns) == ["item_id", "path", "true_label", "predicted_label", "confidence"]
    with unit_of_work(settings) as s:
        stored = get_model_version(s, name="m").metrics
    assert stored["test"]["accuracy"] == m["accuracy"]


def test_evaluate_lists_the_misclassified_items(sqlite_settings):
    s = sqlite_settings
    make_image_dataset(s, size=SIZE)
    _trained(s, epochs=3)
    with unit_of_work(s) as session:  # flip two test labels: the model now "misses" at least those
        flipped = [i.id for i in list_items(session, dataset_id=1, split="test")[:2]]
        session.execute(update(Item).where(Item.id.in_(flipped)).values(current_label="disc"))
        session.commit()
    current = evaluate_model(s, model="m", labels="current", progress=False)
    original = evaluate_model(s, model="m", labels="original", progress=False)
    wrong_ids = set(current.misclassified["item_id"])
    right = original.predictions.set_index("item_id")["correct"]
    assert any(right[i] for i in flipped)  # else the check below would be empty
    assert {i for i in flipped if right[i]} <= wrong_ids
    assert current.metrics["n_misclassified"] > original.metrics["n_misclassified"] - 2


def test_evaluate_refuses_an_empty_split_and_unknown_classes(sqlite_settings):
    s = sqlite_settings
    make_image_dataset(s, per_class={"train": 6, "val": 2}, size=SIZE)
    _trained(s, epochs=1)
    with pytest.raises(DataError, match="no items in split 'test'"):
        evaluate_model(s, model="m", split="test", progress=False)
    with unit_of_work(s) as session:  # a curator introduced a class the model never saw
        ensure_labels(session, dataset_id=1, names=["triangle"])
        first = list_items(session, dataset_id=1, split="val")[0].id
        session.execute(update(Item).where(Item.id == first).values(current_label="triangle"))
        session.commit()
    with pytest.raises(DataError, match=r"triangle are not among the model's classes \(square, disc\)"):
        evaluate_model(s, model="m", split="val", progress=False)


def test_compare_two_models_tabulates_and_lists_changed_items(sqlite_settings, tmp_path):
    s = sqlite_settings
    make_image_dataset(s, size=SIZE)
    _trained(s, name="old", epochs=1, seed=1)
    _trained(s, name="new", epochs=3, seed=2)
    out = tmp_path / "cmp.csv"
    result = compare_models(s, models=["old", "new"], split="test", out=out, progress=False)
    table = pd.read_csv(out)
    assert list(table["model"]) == ["old", "new"]
    assert {"accuracy", "macro_f1", "f1_square", "f1_disc", "params", "train_seconds"} <= set(table.columns)
    assert table["params"].iloc[0] == table["params"].iloc[1] > 0
    changed = result.changed
    old_pred = result.results[0].predictions.set_index("item_id")["predicted_label"]
    new_pred = result.results[1].predictions.set_index("item_id")["predicted_label"]
    assert set(changed["item_id"]) == {i for i in old_pred.index if old_pred[i] != new_pred[i]}
    assert result.changed_path == tmp_path / "cmp_changed.csv" and result.changed_path.is_file()
    make_image_dataset(s, name="other", size=SIZE, seed=5)
    _trained(s, name="elsewhere", dataset="other", epochs=1)
    with pytest.raises(DataError, match="different datasets: old \\(shapes\\), elsewhere \\(other\\)"):
        compare_models(s, models=["old", "elsewhere"], progress=False)


def test_predict_stores_rows_and_resumes(settings):
    make_image_dataset(settings, size=SIZE)
    version = _trained(settings, epochs=1)
    first = predict_model(settings, model="m", split="test", progress=False)
    assert (first.added, first.skipped) == (8, 0)
    with unit_of_work(settings) as s:
        rows = list_predictions(s, model_version_id=version.id, split="test")
    assert len(rows) == 8 and all(r.kind == "holdout" for r in rows)
    for row in rows:
        assert len(row.probabilities) == 2 and sum(row.probabilities) == pytest.approx(1)
        assert row.confidence == pytest.approx(max(row.probabilities))
        assert row.predicted_label == version.class_names[row.probabilities.index(max(row.probabilities))]
    assert predict_model(settings, model="m", split="test", progress=False).added == 0  # no-op re-run
    with unit_of_work(settings) as s:  # as if a run had stopped after a few rows
        s.execute(delete(Prediction).where(Prediction.item_id.in_([rows[0].item_id, rows[1].item_id])))
        s.commit()
    again = predict_model(settings, model="m", split="all", progress=False)
    assert (again.added, again.skipped) == (2 + 24 + 8, 6)
    with unit_of_work(settings) as s:
        assert len(list_predictions(s, model_version_id=version.id)) == 40
        assert len(list_predictions(s, model_version_id=version.id, split="train")) == 24


def test_crossval_scores_every_train_and_val_item_out_of_sample(settings):
    make_image_dataset(settings, size=SIZE)
    version = _trained(settings, epochs=1)
    summary = crossval_predict(settings, model="m", k=2, epochs=1, progress=False)
    assert summary.added == 24 + 8
    with unit_of_work(settings) as s:
        rows = list_predictions(s, model_version_id=version.id, kind="crossval")
        expected = {i.id for i in list_items(s, dataset_id=version.dataset_id, split=["train", "val"])}
        assert list_predictions(s, model_version_id=version.id) == []  # holdout rows untouched
    assert {r.item_id for r in rows} == expected
    assert all(len(r.probabilities) == 2 and r.kind == "crossval" for r in rows)
    assert crossval_predict(settings, model="m", k=2, epochs=1, progress=False).added == 0
    with pytest.raises(DataError, match="fewer than --cross-val 50 folds"):
        crossval_predict(settings, model="m", k=50, progress=False)
