"""Manifest ingest with masks, and seeded stratified splits."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from trustlab.data.ingest import IngestError, ingest
from trustlab.data.splits import SplitSpecError, parse_split, split_counts, stratified_splits
from trustlab.db.engine import unit_of_work
from trustlab.db.queries.datasets import get_dataset
from trustlab.db.queries.items import list_items


def _image(path, value, size=(12, 10)):
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(value)
    Image.fromarray(rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)).save(path)


def test_manifest_with_masks_and_splits(settings, tmp_path):
    root = tmp_path / "m"
    for i in range(4):
        _image(root / "img" / f"{i}.png", i)
    mask = Image.new("RGBA", (12, 10), (0, 0, 0, 0))
    mask.paste((255, 255, 255, 255), (2, 3, 6, 8))
    (root / "masks").mkdir()
    mask.save(root / "masks" / "0.png")
    Image.new("L", (5, 5), 255).save(root / "masks" / "wrong_size.png")
    (root / "manifest.csv").write_text(
        "Path,Label,Split,Mask,comment\n"
        "img/0.png,phone,train,masks/0.png,x\n"
        "img/1.png,url,validation,,\n"
        "img/2.png,url,test,masks/wrong_size.png,\n"
        "img/3.png,,train,,\n"
        "img/missing.png,phone,train,,\n"
        "\n"
    )
    report = ingest(settings, root, dataset="man", manifest=root / "manifest.csv")
    assert report.kind == "manifest" and report.ingested == 2 and report.with_mask == 1
    assert {s.path: s.reason for s in report.skipped} == {
        "img/2.png": "bad mask", "img/3.png": "missing label", "img/missing.png": "file not found"}
    assert "5x5" in next(s.detail for s in report.skipped if s.path == "img/2.png")
    with unit_of_work(settings) as s:
        items = {i.original_label: i for i in list_items(s, dataset_id=get_dataset(s, name="man").id)}
    assert items["phone"].split == "train" and items["url"].split == "val"
    assert items["url"].mask_path is None
    mask_path = items["phone"].mask_path
    assert mask_path.startswith("masks/") and mask_path.endswith(".png")
    stored = Image.open(settings.images_dir / mask_path)
    assert stored.mode == "L" and stored.size == (12, 10)
    pixels = np.asarray(stored)
    assert pixels[5, 3] == 255 and pixels[0, 0] == 0 and int((pixels == 255).sum()) == 4 * 5

    # The CSV itself can be the PATH; a re-run finds everything already there.
    again = ingest(settings, root / "manifest.csv", dataset="man")
    assert again.ok and again.ingested == 0 and len(again.duplicates) == 2


def test_manifest_errors_name_the_file(sqlite_settings, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("file,class\na.png,x\n")
    with pytest.raises(IngestError, match="lacks column.*path, label"):
        ingest(sqlite_settings, tmp_path, dataset="d", manifest=bad)
    with pytest.raises(IngestError, match="does not exist"):
        ingest(sqlite_settings, tmp_path / "nope", dataset="d")
    with pytest.raises(IngestError, match="sum to"):
        ingest(sqlite_settings, tmp_path, dataset="d", split="train=0.5,test=0.2")


def test_stratified_split_proportions_and_determinism(settings, tmp_path):
    root = tmp_path / "strat"
    sizes = {"big": 60, "mid": 20, "small": 7}
    for k, (label, count) in enumerate(sizes.items()):
        for i in range(count):
            _image(root / label / f"{i}.png", 1000 * k + i, size=(6, 6))
    report = ingest(settings, root, dataset="strat", seed=5)
    assert report.ingested == sum(sizes.values())
    for label, count in sizes.items():
        expected = split_counts(count, {"train": 0.7, "val": 0.15, "test": 0.15})
        got = {split: report.new_by_split.get(split, {}).get(label, 0) for split in expected}
        assert sum(got.values()) == count
        assert got["train"] == expected["train"]
        assert abs(got["val"] - got["test"]) <= 1
    assert report.new_by_split["train"]["big"] == 42

    with unit_of_work(settings) as s:
        first = {i.sha256: i.split for i in list_items(s, dataset_id=get_dataset(s, name="strat").id)}
    same = ingest(settings, root, dataset="strat-again", seed=5)
    ingest(settings, root, dataset="strat-other", seed=6)
    with unit_of_work(settings) as s:
        again = {i.sha256: i.split for i in list_items(s, dataset_id=get_dataset(s, name="strat-again").id)}
        changed = {i.sha256: i.split for i in list_items(s, dataset_id=get_dataset(s, name="strat-other").id)}
    assert same.new_by_split == report.new_by_split
    assert again == first
    assert changed != first


def test_split_helpers():
    assert parse_split("train=0.8, test=0.2") == pytest.approx({"train": 0.8, "test": 0.2})
    for bad in ("train", "train=x", "train=0.5,train=0.5", "train=1.5", "a=0.2,b=0.2"):
        with pytest.raises(SplitSpecError):
            parse_split(bad)
    assert split_counts(10, {"train": 0.7, "val": 0.15, "test": 0.15}) == {"train": 7, "val": 2, "test": 1}
    keys = {"a": [f"k{i}" for i in range(20)], "b": ["x", "y", "z"]}
    one = stratified_splits(keys, {"train": 0.5, "test": 0.5}, seed=1)
    shuffled = {"b": ["z", "x", "y"], "a": list(reversed(keys["a"]))}
    assert stratified_splits(shuffled, {"train": 0.5, "test": 0.5}, seed=1) == one
    assert sum(1 for k in keys["a"] if one[k] == "train") == 10
