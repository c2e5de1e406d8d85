"""A dataset ingested from train/ and test/ folders only: train carves a stratified validation part,
records it in the model version, and evaluate, predict, cross-val and relabel all work on the model."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from tests.helpers.tree_builders import write_train_test_tree
from trustlab.cli import _load_verbs
from trustlab.cli.app import app
from trustlab.data.ingest import ingest
from trustlab.db.engine import unit_of_work
from trustlab.db.queries.datasets import get_dataset
from trustlab.db.queries.items import list_items
from trustlab.db.queries.predictions import list_predictions
from trustlab.models.crossval import crossval_predict
from trustlab.models.errors import DataError
from trustlab.models.evaluate import evaluate_model
from trustlab.models.predict import predict_model
from trustlab.models.train import TrainConfig, train_model
from trustlab.studies.relabel.pipeline import run_relabel

pytestmark = pytest.mark.usefixtures("one_torch_thread")

SIZE = 32
FAST = {"img_size": SIZE, "batch_size": 8}




def _items(settings, dataset="tt", split=None):
    with unit_of_work(settings) as s:
        return list_items(s, dataset_id=get_dataset(s, name=dataset).id, split=split)


def test_train_carves_a_stratified_seeded_val_part_and_the_model_uses_it(sqlite_settings, tmp_path):
    s = sqlite_settings
    ingest(s, write_train_test_tree(tmp_path / "tree"), dataset="tt")
    splits_before = {i.id: i.split for i in _items(s)}
    assert set(splits_before.values()) == {"train", "test"}
    version = train_model(s, TrainConfig.of(dataset="tt", arch="simple_cnn", name="m", epochs=1,
                                            val_fraction=0.2, **FAST), progress=False)
    config = version.training_config
    assert config["val_source"] == "carved" and config["val_fraction"] == 0.2
    carved = set(config["val_item_ids"])
    train_items = {i.id: i for i in _items(s, split="train")}
    assert carved <= set(train_items) and len(carved) == 8  # 20% of 20 per class, 2 classes
    assert sorted(train_items[i].original_label for i in carved) == ["disc"] * 4 + ["square"] * 4
    assert version.history["n_val"] == 8 and version.history["n_train"] == 32
    assert {i.id: i.split for i in _items(s)} == splits_before  # the dataset's splits stay as ingested
    again = train_model(s, TrainConfig.of(dataset="tt", arch="simple_cnn", name="m2", epochs=1,
                                          val_fraction=0.2, **FAST), progress=False)
    assert again.training_config["val_item_ids"] == config["val_item_ids"]  # seeded: same part
    other = train_model(s, TrainConfig.of(dataset="tt", arch="simple_cnn", name="m3", epochs=1,
                                          val_fraction=0.2, seed=5,
                        **FAST), progress=False)
    assert set(other.training_config["val_item_ids"]) != carved

    # evaluate/predict --split val mean the carved items; train the items the model trained on.
    val = evaluate_model(s, model="m", split="val", progress=False)
    assert set(val.predictions["item_id"]) == carved and val.metrics["n"] == 8
    train = evaluate_model(s, model="m", split="train", progress=False)
    assert set(train.predictions["item_id"]) == set(train_items) - carved
    assert evaluate_model(s, model="m", split="test", progress=False).metrics["n"] == 8
    assert predict_model(s, model="m", split="val", progress=False).added == 8
    with unit_of_work(s) as session:
        assert {p.item_id for p in list_predictions(session, model_version_id=version.id)} == carved

    # relabel: the carved items' holdout predictions are out-of-sample, the trained-on ones are not.
    result = run_relabel(s, model="m", out_dir=tmp_path / "rel", dataset="tt", method="cleanlab")
    assert result.counts["with_probs"] == 8
    summary = crossval_predict(s, model="m", k=2, epochs=1, progress=False)
    assert summary.added == 40  # every train item, carved or not
    result = run_relabel(s, model="m", out_dir=tmp_path / "rel", dataset="tt")
    assert result.counts["with_probs"] == 40


def test_too_few_items_per_class_name_the_class_and_count(sqlite_settings, tmp_path):
    s = sqlite_settings
    root = write_train_test_tree(tmp_path / "tree", per_class={"train": 6, "test": 2})
    for extra in sorted((root / "train" / "disc").iterdir())[3:]:
        extra.unlink()  # disc keeps 3 train images
    ingest(s, root, dataset="tt")
    with pytest.raises(DataError, match=r"class 'disc' has only 3 train item\(s\).*needs at least 5"):
        train_model(s, TrainConfig.of(dataset="tt", arch="simple_cnn", name="m", **FAST), progress=False)
    with pytest.raises(DataError, match=r"--val-fraction must be in \(0, 0.5\]"):
        train_model(s, TrainConfig.of(dataset="tt", arch="simple_cnn", name="m", val_fraction=0.9, **FAST),
                                      progress=False)
    version = train_model(s, TrainConfig.of(dataset="tt", arch="simple_cnn", name="m", epochs=1,
                                            val_fraction=0.34, **FAST), progress=False)
    assert len(version.training_config["val_item_ids"]) == 3  # one disc, two squares


def test_train_cli_says_it_carved_a_val_part(sqlite_settings, tmp_path, monkeypatch):
    monkeypatch.setenv("TRUSTLAB_HOME", str(sqlite_settings.home))
    monkeypatch.delenv("TRUSTLAB_DB_URL", raising=False)
    _load_verbs()
    runner = CliRunner()
    tree = write_train_test_tree(tmp_path / "tree")
    assert runner.invoke(app, ["ingest", str(tree), "--dataset", "tt"]).exit_code == 0
    result = runner.invoke(app, ["train", "--dataset", "tt", "--name", "m", "--epochs", "1", "--img-size",
                                 str(SIZE), "--batch-size", "8"])
    assert result.exit_code == 0, result.output
    assert result.output.count("has no val split: holding out 4 of its train items") == 1
    result = runner.invoke(app, ["evaluate", "--model", "m", "--split", "val"])
    assert result.exit_code == 0 and "(n=4)" in result.output, result.output
