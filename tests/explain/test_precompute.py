"""explain_items against a real database: rows + artifacts stored, resumable, shards partition."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from sqlalchemy import func, select

from tests.helpers.builders import make_image_dataset
from trustlab.db.engine import unit_of_work
from trustlab.db.queries.explanations import add_explanation, get_explanation
from trustlab.db.queries.items import list_items
from trustlab.db.queries.predictions import add_predictions_if_missing
from trustlab.db.schema import Explanation, Item, Prediction
from trustlab.explain.base import ExplainError
from trustlab.explain.precompute import (
    ExplainOptions,
    Shard,
    explain_items,
    explain_split,
    make_explainer,
    parse_shard,
    shard_items,
)
from trustlab.explain.store import artifact_path, load_array, load_arrays
from trustlab.models.arch import build_model
from trustlab.models.checkpoint import ModelSpec, load_model, register_model
from trustlab.models.images import IMAGENET_MEAN, IMAGENET_STD

CLASSES = ("square", "disc")
SIZE = 32
FAST = {"lime": {"num_samples": 24}}


def _setup(settings) -> list[Item]:
    dataset_id = make_image_dataset(settings, classes=CLASSES, per_class={"train": 3, "test": 2}, size=SIZE)
    torch.manual_seed(0)
    register_model(settings, name="m", dataset_id=dataset_id, module=build_model("simple_cnn", 2).eval(),
                   spec=ModelSpec(arch="simple_cnn", class_names=CLASSES, img_size=SIZE, mean=IMAGENET_MEAN,
                                  std=IMAGENET_STD))
    with unit_of_work(settings) as s:
        items = list_items(s, dataset_id=dataset_id, split="test")
        # Evidence mask for the first test item: the left half of the image.
        mask = np.zeros((SIZE, SIZE), np.uint8)
        mask[:, : SIZE // 2] = 255
        Image.fromarray(mask).save(settings.images_dir / "mask0.png")
        first = s.get(Item, items[0].id)
        first.mask_path = "mask0.png"
        s.commit()
    return items


def _count(settings, table) -> int:
    with unit_of_work(settings) as s:
        return s.scalar(select(func.count()).select_from(table))


def test_explain_items_stores_rows_and_artifacts_and_resumes(settings):
    items = _setup(settings)
    ids = [item.id for item in items]
    assert _count(settings, Prediction) == 0  # predictions are computed on the way
    rows = explain_items(settings, model="m", item_ids=ids, methods=["gradcam", "lime", "twin"],
                         options=ExplainOptions(params=FAST, batch_size=3, device="cpu"))
    assert [r.method for r in rows] == ["gradcam", "lime", "twin"] * len(ids)
    assert _count(settings, Prediction) == len(ids) and _count(settings, Explanation) == 3 * len(ids)
    for row in rows:
        assert artifact_path(settings, row.overlay_path).is_file() and row.compute_ms > 0
        with Image.open(artifact_path(settings, row.overlay_path)) as overlay:
            assert overlay.width >= 256
        if row.method == "twin":
            assert row.raw_path is None and len(row.neighbours) == 3
            assert {n["label"] for n in row.neighbours} == {row.extra["target"]}
            assert set(row.neighbours[0]) == {"item_id", "similarity", "label"}
            continue
        raw = load_array(settings, row.raw_path)
        assert raw.dtype == np.float16 and raw.shape == (SIZE, SIZE)
        assert {"deletion_auc", "insertion_auc", "road"} <= set(row.faithfulness)
    gradcam_first = rows[0]
    assert "pointing_game" in gradcam_first.faithfulness and "pointing_game" not in rows[3].faithfulness
    lime_row = rows[1]
    lime_arrays = load_arrays(settings, lime_row.extra["lime_npz"])
    assert lime_arrays["masks"].shape[0] == 24 and lime_arrays["segments"].shape == (SIZE, SIZE)
    assert lime_row.seed == 0 and lime_row.params["num_samples"] == 24
    # The stored segmentation and masks reproduce the stored surrogate exactly.
    loaded = load_model(settings, "m", device="cpu")
    with make_explainer("lime", loaded, lime_row.params) as lime:
        with unit_of_work(settings) as s:
            x = loaded.load_items([s.get(Item, ids[0])])
        again = lime.explain_segments(
            x[0],
            0 if lime_row.extra["target"] == "square" else 1,
            lime_arrays["segments"],
            lime_arrays["masks"],
        )
    np.testing.assert_allclose(again["coefficients"], lime_row.extra["coefficients"], atol=1e-9)

    again = explain_items(settings, model="m", item_ids=ids, methods=["gradcam", "lime", "twin"],
                          options=ExplainOptions(params=FAST, device="cpu"))
    assert [r.id for r in again] == [r.id for r in rows]
    assert _count(settings, Explanation) == 3 * len(ids)
    other = explain_items(settings, model="m", item_ids=ids[:1], methods=["lime"],
                          options=ExplainOptions(params={"lime": {"num_samples": 16}}, device="cpu"))
    assert other[0].id != lime_row.id and _count(settings, Explanation) == 3 * len(ids) + 1
    with unit_of_work(settings) as s:
        latest = get_explanation(s, prediction_id=lime_row.prediction_id, method="lime")
        exact = get_explanation(
            s, prediction_id=lime_row.prediction_id, method="lime", params_key=lime_row.params_key
        )
    assert latest.id == other[0].id and exact.id == lime_row.id


def test_a_lost_insert_race_returns_the_stored_row(settings):
    items = _setup(settings)
    (row,) = explain_items(settings, model="m", item_ids=[items[0].id], methods=["cam"],
                           options=ExplainOptions(device="cpu", faithfulness=False))
    twin_row = Explanation(
        prediction_id=row.prediction_id, method="cam", params_key=row.params_key, params={}
    )
    with unit_of_work(settings) as s:
        assert add_explanation(s, explanation=twin_row).id == row.id


def test_shards_partition_the_items(settings):
    items = _setup(settings)
    ids = [item.id for item in items]
    assert parse_shard("1/3") == Shard(1, 3) and parse_shard(None) is None
    for bad in ("3/3", "x/2", "1"):
        with pytest.raises(ExplainError, match="shard"):
            parse_shard(bad)
    parts = [shard_items(list(range(1, 101)), Shard(i, 4)) for i in range(4)]
    assert sorted(sum(parts, [])) == list(range(1, 101)) and all(20 <= len(p) <= 30 for p in parts)
    done = [
        explain_split(settings, model="m", methods=["cam"], split="test", shard=Shard(i, 2),
                      options=ExplainOptions(device="cpu", faithfulness=False))
        for i in range(2)
    ]
    with unit_of_work(settings) as s:
        explained = [[s.get(Prediction, r.prediction_id).item_id for r in rows] for rows in done]
    assert sorted(explained[0] + explained[1]) == sorted(ids) and not set(explained[0]) & set(explained[1])


def test_errors_name_the_input(settings):
    items = _setup(settings)
    with pytest.raises(ExplainError, match="num_sample"):
        explain_items(settings, model="m", item_ids=[items[0].id], methods=["lime"],
                      options=ExplainOptions(params={"lime": {"num_sample": 3}}))
    with pytest.raises(ExplainError, match="999999"):
        explain_items(settings, model="m", item_ids=[999999], methods=["gradcam"])


def test_predictions_inserted_by_another_worker_are_skipped(settings):
    items = _setup(settings)
    explain_items(settings, model="m", item_ids=[items[0].id], methods=["cam"],
                  options=ExplainOptions(faithfulness=False))
    with unit_of_work(settings) as s:
        existing = s.scalars(select(Prediction)).one()
        clash = Prediction(
            model_version_id=existing.model_version_id,
            item_id=existing.item_id,
            probabilities=[0.5, 0.5],
            predicted_label="disc",
            confidence=0.5,
        )
        fresh = Prediction(
            model_version_id=existing.model_version_id,
            item_id=items[1].id,
            probabilities=[0.5, 0.5],
            predicted_label="disc",
            confidence=0.5,
        )
        assert add_predictions_if_missing(s, predictions=[clash, fresh]) == 1
    assert _count(settings, Prediction) == 2


TITLE_BAND_PX = 12  # a title line would sit in the top rows, black text on white
NEAR_WHITE = 240


def test_overlays_carry_no_title_band(sqlite_settings):
    """Blinding: the overlay a rater sees is the image panel alone, with no title naming the method
    (the condition) or the explained class (the prediction, which `simulate` asks raters to guess)."""
    items = _setup(sqlite_settings)
    rows = explain_items(sqlite_settings, model="m", item_ids=[items[0].id], methods=["gradcam", "lime"],
                         options=ExplainOptions(params=FAST, device="cpu", faithfulness=False))
    for row in rows:
        with Image.open(artifact_path(sqlite_settings, row.overlay_path)) as overlay:
            top_band = np.asarray(overlay.convert("L"))[:TITLE_BAND_PX]
        assert (top_band > NEAR_WHITE).mean() < 0.5, f"{row.method} overlay starts with a white text band"
