"""The synthetic demo dataset: determinism, masks that cover the text, noise, watermark bias, binary."""

from __future__ import annotations

import csv
import hashlib
import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from trustlab.data.demo import (
    AMBIGUOUS_RATE,
    DemoError,
    advert_spec,
    generate_demo,
)
from trustlab.data.demo_draw import IMAGE_SIZE, WATERMARK_BOX, WATERMARK_COLOUR, render_advert


def _tree_hash(root: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(root)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def _truth(root: Path) -> list[dict]:
    with (root / "truth.csv").open() as handle:
        return list(csv.DictReader(handle))


def _by_name(root: Path) -> dict[str, bytes]:
    return {row["path"].split("/")[-1]: (root / row["path"]).read_bytes() for row in _truth(root)}


@pytest.fixture(scope="module")
def plain(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("demo") / "plain"
    generate_demo(out, n=48, seed=0)
    return out


def test_same_seed_same_bytes_other_seed_differs(plain, tmp_path):
    generate_demo(tmp_path / "again", n=48, seed=0)
    generate_demo(tmp_path / "other", n=48, seed=1)
    assert _tree_hash(tmp_path / "again") == _tree_hash(plain)
    assert _tree_hash(tmp_path / "other") != _tree_hash(plain)
    # Regenerating into a previous output replaces it completely (no stale files).
    generate_demo(tmp_path / "other", n=48, seed=0)
    assert _tree_hash(tmp_path / "other") == _tree_hash(plain)


def test_layout_truth_manifest_and_summary(plain):
    rows = _truth(plain)
    summary = json.loads((plain / "demo.json").read_text())
    assert summary["n"] == 48 and summary["classes"] == ["email", "none", "phone", "url"]
    assert summary["image_size"] == IMAGE_SIZE and summary["watermark_box"] is None
    assert Counter(r["true_class"] for r in rows) == {"phone": 12, "email": 12, "url": 12, "none": 12}
    for cls in ("phone", "email", "url", "none"):
        per_split = Counter(r["split"] for r in rows if r["true_class"] == cls)
        assert per_split == {"train": 8, "val": 2, "test": 2}
    for row in rows:
        assert row["path"] == f"{row['split']}/{row['given_class']}/{Path(row['path']).name}"
        image = Image.open(plain / row["path"])
        assert image.mode == "RGB" and image.size == (IMAGE_SIZE, IMAGE_SIZE)
        assert (row["text"] == "") == (row["true_class"] == "none")
    with (plain / "manifest.csv").open() as handle:
        manifest = list(csv.DictReader(handle))
    assert [m["path"] for m in manifest] == [r["path"] for r in rows]
    assert all(m["label"] == r["given_class"] and m["mask"] == r["mask"] for m, r in zip(manifest, rows,
                                                                                          strict=True))


def test_masks_cover_the_text(plain):
    rows = _truth(plain)
    checked = 0
    for index, row in enumerate(rows):
        assert row["path"].endswith(f"d{index:05d}.png")
        mask = np.asarray(Image.open(plain / row["mask"])) > 127
        if row["true_class"] == "none":
            assert not mask.any()
            continue
        spec = advert_spec(0, index, row["content"], ambiguous=row["ambiguous"] == "True",
                           watermark=row["watermark"] == "True")
        with_text = np.asarray(render_advert(spec)).astype(int)
        assert np.array_equal(with_text, np.asarray(Image.open(plain / row["path"])))
        without = np.asarray(render_advert(spec, with_contact=False)).astype(int)
        changed = np.abs(with_text - without).sum(axis=2) > 0
        assert changed.sum() > 30  # the text is really there
        assert (changed & mask).sum() >= 0.95 * changed.sum()
        # ... and the mask is about the text, not half the image.
        assert mask.sum() <= 4 * changed.sum() + 400 and mask.mean() < 0.25
        ys, xs = np.nonzero(mask)
        assert [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1] == [int(v) for v in row["text_box"].split()]
        checked += 1
    assert checked == 36


def test_ambiguous_items(plain):
    rows = _truth(plain)
    ambiguous = [r for r in rows if r["ambiguous"] == "True"]
    assert {r["true_class"] for r in ambiguous} <= {"phone", "url"}
    for cls in ("phone", "url"):
        assert sum(r["true_class"] == cls for r in ambiguous) == round(AMBIGUOUS_RATE * 12)
    for row in ambiguous:
        text = row["text"]
        assert sum(ch.isdigit() for ch in text) >= 7
        if row["true_class"] == "phone":
            assert "." in text and "@" not in text
        else:
            assert text.endswith((".com", ".net"))


def test_noise_flips_the_given_fraction_only(plain, tmp_path):
    out = tmp_path / "noisy"
    summary = generate_demo(out, n=48, seed=0, noise=0.25)
    rows = _truth(out)
    noisy = [r for r in rows if r["noisy"] == "True"]
    assert len(noisy) == summary.noisy == 12
    assert all(r["given_class"] != r["true_class"] for r in noisy)
    assert all(r["given_class"] == r["true_class"] for r in rows if r["noisy"] == "False")
    # Noise changes labels (folders), never pixels.
    assert _by_name(out) == _by_name(plain)


def test_watermark_correlates_in_train_and_val_only(plain, tmp_path):
    out = tmp_path / "biased"
    summary = generate_demo(out, n=80, seed=0, bias="watermark")
    assert summary.biased_class == "email" and tuple(summary.watermark_box) == WATERMARK_BOX
    assert json.loads((out / "demo.json").read_text())["watermark_box"] == list(WATERMARK_BOX)
    rows = _truth(out)

    def rate(split, cls):
        group = [r["watermark"] == "True" for r in rows if r["split"] == split and r["true_class"] == cls]
        return sum(group) / len(group)

    # Validation is biased as training is (the model looks accurate on paper); test is not.
    for split in ("train", "val"):
        assert rate(split, "email") >= 0.85
        assert all(rate(split, cls) <= 0.1 for cls in ("phone", "url", "none"))
    rates = {rate("test", cls) for cls in ("phone", "email", "url", "none")}
    assert len(rates) == 1 and 0 < rates.pop() < 0.5
    x0, y0, x1, y1 = WATERMARK_BOX
    for row in rows:
        corner = np.asarray(Image.open(out / row["path"]))[y0:y1, x0:x1].astype(int)
        orange = (np.abs(corner - np.array(WATERMARK_COLOUR)).sum(axis=2) < 60).mean()
        assert (orange > 0.2) == (row["watermark"] == "True")
    # Everything but the logo is the unbiased image.
    unbiased = tmp_path / "unbiased"
    generate_demo(unbiased, n=80, seed=0)
    plain_bytes, biased_bytes = _by_name(unbiased), _by_name(out)
    for row in rows:
        name = row["path"].split("/")[-1]
        assert (plain_bytes[name] == biased_bytes[name]) == (row["watermark"] == "False")


def test_binary_mode(plain, tmp_path):
    out = tmp_path / "binary"
    summary = generate_demo(out, n=48, seed=0, binary=True)
    assert summary.classes == ["contact", "none"]
    rows = _truth(out)
    assert {r["given_class"] for r in rows} == {"contact", "none"}
    assert all((r["true_class"] == "contact") == (r["content"] != "none") for r in rows)
    assert sorted(p.name for p in (out / "train").iterdir()) == ["contact", "none"]
    assert _by_name(out) == _by_name(plain)


def test_bad_arguments(tmp_path):
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "thesis.tex").write_text("precious")
    with pytest.raises(DemoError, match="not empty"):
        generate_demo(tmp_path / "busy", n=16)
    assert (tmp_path / "busy" / "thesis.tex").read_text() == "precious"
    with pytest.raises(DemoError, match="--noise"):
        generate_demo(tmp_path / "x", n=16, noise=0.9)
    with pytest.raises(DemoError, match="--n"):
        generate_demo(tmp_path / "y", n=3)
