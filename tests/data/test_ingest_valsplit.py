"""`ingest --val-fraction`: a train/test-only ImageFolder tree gets a stored, stratified val split."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from tests.helpers.tree_builders import write_train_test_tree
from trustlab.cli import _load_verbs
from trustlab.cli.app import app
from trustlab.data.ingest import IngestError, ingest
from trustlab.db.engine import unit_of_work
from trustlab.db.queries.datasets import get_dataset
from trustlab.db.queries.items import list_items


def _splits(settings, name):
    with unit_of_work(settings) as s:
        return {(i.sha256, i.original_label): i.split for i in list_items(s, dataset_id=get_dataset(
            s, name=name).id)}


def test_val_fraction_moves_a_stratified_seeded_share_of_train_to_val(settings, tmp_path):
    tree = write_train_test_tree(tmp_path / "tree", per_class={"train": 10, "test": 3})
    report = ingest(settings, tree, dataset="a", val_fraction=0.2, seed=1)
    assert report.new_by_split == {"train": {"square": 8, "disc": 8}, "val": {"square": 2, "disc": 2},
                                   "test": {"square": 3, "disc": 3}}
    assert any("moved 4 train items" in note for note in report.notes)
    ingest(settings, tree, dataset="b", val_fraction=0.2, seed=1)
    assert _splits(settings, "a") == _splits(settings, "b")  # deterministic
    ingest(settings, tree, dataset="c", val_fraction=0.2, seed=2)
    assert _splits(settings, "a") != _splits(settings, "c")
    plain = ingest(settings, tree, dataset="d")
    assert "val" not in plain.new_by_split  # without the option the splits are as on disk
    # A re-run adds nothing and moves nothing: the stored split stays.
    rerun = ingest(settings, tree, dataset="a", val_fraction=0.5, seed=9)
    assert rerun.ingested == 0 and _splits(settings, "a") == _splits(settings, "b")


def test_val_fraction_unused_when_the_source_has_val_and_errors_name_the_class(sqlite_settings, tmp_path):
    s = sqlite_settings
    tree = write_train_test_tree(tmp_path / "tree", per_class={"train": 6, "val": 2, "test": 2})
    report = ingest(s, tree, dataset="withval", val_fraction=0.2)
    assert report.new_by_split["val"] == {"square": 2, "disc": 2}
    assert any("not used" in note for note in report.notes)
    small = write_train_test_tree(tmp_path / "small", per_class={"train": 3, "test": 2})
    with pytest.raises(IngestError, match=r"class 'disc' has only 3 train item\(s\).*at least 5"):
        ingest(s, small, dataset="small", val_fraction=0.1)
    with pytest.raises(IngestError, match=r"--val-fraction must be in \(0, 0.5\]"):
        ingest(s, small, dataset="small", val_fraction=0.7)


def test_ingest_cli_val_fraction(sqlite_settings, tmp_path, monkeypatch):
    monkeypatch.setenv("TRUSTLAB_HOME", str(sqlite_settings.home))
    monkeypatch.delenv("TRUSTLAB_DB_URL", raising=False)
    _load_verbs()
    tree = write_train_test_tree(tmp_path / "tree", per_class={"train": 10, "test": 2})
    result = CliRunner().invoke(app, ["ingest", str(tree), "--dataset", "tt", "--val-fraction", "0.1"])
    assert result.exit_code == 0, result.output
    assert "moved 2 train items" in result.output
    assert sorted(_splits(sqlite_settings, "tt").values()).count("val") == 2
