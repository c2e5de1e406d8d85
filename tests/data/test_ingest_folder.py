"""Ingest of an ImageFolder tree that mixes good images with broken ones, on both backends."""

from __future__ import annotations

import json

import numpy as np
from PIL import Image

from trustlab.data.images import MAX_PIXELS
from trustlab.data.ingest import ingest
from trustlab.db.engine import unit_of_work
from trustlab.db.queries.datasets import get_dataset
from trustlab.db.queries.items import list_items
from trustlab.db.queries.labels import class_names


def _snapshot(settings, name):
    with unit_of_work(settings) as s:
        dataset = get_dataset(s, name=name)
        rows = [(i.id, i.sha256, i.path, i.split, i.original_label, i.current_label, i.width, i.height,
                 i.mask_path) for i in list_items(s, dataset_id=dataset.id)]
        return rows, class_names(s, dataset_id=dataset.id)


def test_mixed_folder_ingests_good_files_reports_bad_ones(settings, mixed_folder):
    report = ingest(settings, mixed_folder.root, dataset="mixed", seed=3)

    assert report.ok and report.kind == "folder"
    assert report.ingested == len(mixed_folder.good) == 10
    assert {s.path: s.reason for s in report.skipped} == mixed_folder.bad
    assert all(s.detail for s in report.skipped)
    assert report.skipped_by_reason == {"empty file": 1, "not an image": 1, "too large": 2, "truncated": 1}
    assert report.duplicates == []
    assert str(MAX_PIXELS) in next(s.detail for s in report.skipped if s.path == "beta/big.png")

    rows, classes = _snapshot(settings, "mixed")
    assert classes == ["alpha", "beta"]
    assert len(rows) == 10
    with unit_of_work(settings) as s:
        dataset_id = get_dataset(s, name="mixed").id
        root = str(mixed_folder.root.resolve()) + "/"
        items = {i.source_path.removeprefix(root): i for i in list_items(s, dataset_id=dataset_id)}
    assert set(items) == set(mixed_folder.good)
    for rel, item in items.items():
        assert item.original_label == item.current_label == rel.split("/")[0]
        assert item.path == f"{item.sha256[:2]}/{item.sha256}.png"
        assert item.split in {"train", "val", "test"}
        stored = Image.open(settings.images_dir / item.path)
        assert stored.format == "PNG" and stored.mode == "RGB"
        assert stored.size == (item.width, item.height)

    def pixels(rel):
        return np.asarray(Image.open(settings.images_dir / items[rel].path))

    # EXIF orientation 6 applied: the 40x20 image (red left, blue right) is now 20x40, red on top.
    rotated = pixels("beta/rotated.jpg")
    assert rotated.shape == (40, 20, 3)
    assert rotated[3, 10, 0] > 200 and rotated[3, 10, 2] < 60
    assert rotated[36, 10, 2] > 200 and rotated[36, 10, 0] < 60
    # Transparent pixels composited on white, opaque green kept.
    rgba = pixels("alpha/rgba.png")
    assert tuple(rgba[8, 12]) == (255, 255, 255) and tuple(rgba[8, 2]) == (0, 200, 0)
    # 16-bit scaled (65535 -> 255, 25700 -> 100), not clipped to 255 everywhere.
    sixteen = pixels("beta/sixteen.png")
    assert tuple(sixteen[0, 0]) == (100, 100, 100) and tuple(sixteen[0, 7]) == (255, 255, 255)
    # CMYK (0,255,255,0) is red.
    cmyk = pixels("alpha/cmyk.jpg")
    assert cmyk[8, 8, 0] > 200 and cmyk[8, 8, 1] < 60 and cmyk[8, 8, 2] < 60
    assert tuple(pixels("beta/la.png")[0, 0]) == (50, 50, 50)


def test_rerun_adds_nothing_and_changes_nothing(settings, mixed_folder):
    first = ingest(settings, mixed_folder.root, dataset="mixed")
    before = _snapshot(settings, "mixed")
    files_before = sorted(p.relative_to(settings.images_dir) for p in settings.images_dir.rglob("*"))

    again = ingest(settings, mixed_folder.root, dataset="mixed", seed=99, split="train=0.5,test=0.5")
    assert again.ok and again.ingested == 0
    assert len(again.duplicates) == first.ingested
    assert again.label_conflicts == 0
    assert {s.path: s.reason for s in again.skipped} == mixed_folder.bad
    assert _snapshot(settings, "mixed") == before
    assert sorted(p.relative_to(settings.images_dir) for p in settings.images_dir.rglob("*")) == files_before

    # A new file is the only thing a later run adds; it keeps its own label, others keep theirs.
    Image.new("RGB", (9, 9), (1, 2, 3)).save(mixed_folder.root / "alpha" / "new.png")
    third = ingest(settings, mixed_folder.root, dataset="mixed")
    assert third.ingested == 1 and len(third.duplicates) == first.ingested
    rows, _ = _snapshot(settings, "mixed")
    assert rows[:-1] == before[0]


def test_duplicates_within_one_run_and_label_conflicts(settings, tmp_path):
    root = tmp_path / "dups"
    for folder in ("a", "b"):
        (root / folder).mkdir(parents=True)
    data = (tmp_path / "x.png")
    Image.new("RGB", (8, 8), (10, 20, 30)).save(data)
    (root / "a" / "one.png").write_bytes(data.read_bytes())
    (root / "a" / "two.png").write_bytes(data.read_bytes())
    (root / "b" / "three.png").write_bytes(data.read_bytes())
    Image.new("RGB", (8, 8), (99, 20, 30)).save(root / "b" / "other.png")

    report = ingest(settings, root, dataset="dups")
    assert report.ingested == 2
    assert [(d.path, d.duplicate_of, d.label_conflict) for d in report.duplicates] == [
        ("a/two.png", "a/one.png", False), ("b/three.png", "a/one.png", True)]
    assert report.label_conflicts == 1
    summary = report.to_dict()
    assert summary["duplicates"] == 2 and summary["ingested"] == 2
    json.dumps(summary)  # the --report file is plain JSON


def test_split_folders_are_used(settings, tmp_path):
    root = tmp_path / "splitted"
    rng = np.random.default_rng(1)
    for split, count in (("train", 3), ("valid", 2), ("test", 1)):
        for label in ("cat", "dog"):
            folder = root / split / label
            folder.mkdir(parents=True)
            for i in range(count):
                Image.fromarray(rng.integers(0, 255, (6, 6, 3), dtype=np.uint8)).save(folder / f"{i}.png")
    (root / "README.txt").write_text("hello")
    (root / "extras").mkdir()

    report = ingest(settings, root, dataset="splitted")
    assert report.new_by_split == {"train": {"cat": 3, "dog": 3}, "val": {"cat": 2, "dog": 2},
                                   "test": {"cat": 1, "dog": 1}}
    assert len(report.notes) == 2 and report.skipped == []


def test_nothing_usable_is_not_ok(settings, tmp_path):
    root = tmp_path / "junk" / "cls"
    root.mkdir(parents=True)
    (root / "a.png").write_bytes(b"")
    report = ingest(settings, root.parent, dataset="junk")
    assert not report.ok and report.ingested == 0
    assert "empty file" in report.failure_message()
