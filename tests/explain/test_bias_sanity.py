"""Region bias report over stored maps, per-class mean maps, and the randomisation sanity check."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from tests.helpers.builders import make_image_dataset
from trustlab.db.engine import unit_of_work
from trustlab.db.queries.explanations import add_explanation
from trustlab.db.queries.items import list_items
from trustlab.db.queries.predictions import add_predictions_if_missing
from trustlab.db.schema import Explanation, Prediction
from trustlab.explain.base import Attribution, Explainer, ExplainError
from trustlab.explain.bias import (
    bias_report,
    class_mean_maps,
    mean_maps,
    parse_region,
    region_mask,
    watermark_region,
)
from trustlab.explain.precompute import ExplainOptions
from trustlab.explain.sanity import randomisation_test, randomisation_units, sanity_check
from trustlab.explain.store import save_array
from trustlab.models.arch import build_model
from trustlab.models.checkpoint import ModelSpec, register_model
from trustlab.models.images import IMAGENET_MEAN, IMAGENET_STD

CLASSES = ("square", "disc")
SIZE = 32
# Watermark-like box in the original 32 px images: top-left 8x8 (1/16 of the area).
BOX = (0, 0, 8, 8)


def test_region_mask_scales_to_the_map_grid():
    mask = region_mask((0, 0, 16, 8), width=64, height=32, size=(16, 16))
    assert mask.sum() == 4 * 4 and mask[:4, :4].all()
    assert parse_region("1,2,3,4") == (1, 2, 3, 4)
    with pytest.raises(ExplainError, match="x0,y0,x1,y1"):
        parse_region("1,2,3")


def test_class_mean_maps_scale_each_map():
    maps = np.zeros((3, 2, 2))
    maps[0, 0, 0], maps[1, 0, 0], maps[2, 1, 1] = 10.0, 1.0, 5.0
    means = class_mean_maps(maps, ["a", "a", "b"])
    assert means["a"][0, 0] == 1.0 and means["b"][1, 1] == 1.0


def test_watermark_region_reads_demo_json(tmp_path):
    (tmp_path / "demo.json").write_text(json.dumps({"watermark_box": [4, 5, 20, 12]}))
    assert watermark_region(tmp_path) == (4, 5, 20, 12)
    (tmp_path / "demo.json").write_text(json.dumps({"watermark_box": None}))
    with pytest.raises(ExplainError, match="--region"):
        watermark_region(tmp_path / "demo.json")


def test_bias_report_flags_the_class_whose_evidence_sits_in_the_region(settings):
    dataset_id = make_image_dataset(settings, classes=CLASSES, per_class={"test": 4}, size=SIZE)
    version = register_model(settings, name="m", dataset_id=dataset_id, module=build_model("simple_cnn", 2),
                             spec=ModelSpec(arch="simple_cnn", class_names=CLASSES, img_size=SIZE,
                                            mean=IMAGENET_MEAN, std=IMAGENET_STD))
    rng = np.random.default_rng(0)
    with unit_of_work(settings) as s:
        items = list_items(s, dataset_id=dataset_id, split="test")
        add_predictions_if_missing(
            s,
            predictions=[
                Prediction(
                    model_version_id=version.id,
                    item_id=item.id,
                    probabilities=[0.5, 0.5],
                    predicted_label=item.current_label,
                    confidence=0.5,
                )
                for item in items
            ],
        )
        for prediction in s.query(Prediction).all():
            saliency = rng.random((SIZE, SIZE)) * 0.1
            if prediction.predicted_label == "disc":  # "disc" leans on the watermark corner
                saliency[:8, :8] += 1.0
            add_explanation(
                s,
                explanation=Explanation(
                    prediction_id=prediction.id,
                    method="gradcam",
                    params_key="k",
                    raw_path=save_array(settings, saliency),
                ),
            )
    report = bias_report(settings, model="m", region=BOX, methods=["gradcam"])
    by_class = report.set_index("predicted_class")
    assert by_class.loc["disc", "flagged"] and not by_class.loc["square", "flagged"]
    assert by_class.loc["disc", "mean_share"] > 0.5 and by_class.loc["disc", "n"] == 4
    assert report.loc[0, "area_share"] == pytest.approx(1 / 16)
    means = mean_maps(settings, model="m", method="gradcam")
    assert means["disc"][:8, :8].mean() > 3 * means["disc"][8:, 8:].mean()
    assert means["square"][:8, :8].mean() < 2 * means["square"][8:, 8:].mean()
    with pytest.raises(ExplainError, match="trustlab explain"):
        bias_report(settings, model="m", region=BOX, methods=["lime"])


class _ImageOnly(Explainer):
    """Ignores the model: the map is the image's brightness (what a bad method may do)."""

    name = "image_only_test"

    def attribute(self, x, targets):
        return Attribution(maps=x.mean(dim=1).cpu().numpy(), targets=targets)


def test_randomisation_separates_model_dependent_maps_from_image_dependent_ones():
    torch.manual_seed(0)
    model = build_model("simple_cnn", 2).eval()
    before = [p.detach().clone() for p in model.parameters()]
    x = torch.rand(3, 3, SIZE, SIZE, generator=torch.Generator().manual_seed(0))
    cascade = randomisation_test(model, x, method="gradcam", mode="cascading")
    assert list(cascade["randomised"]) == [name for name, _ in randomisation_units(model)]
    assert cascade["randomised"].iloc[0] == "classifier"
    full = randomisation_test(model, x, method="gradcam", mode="full")
    assert len(full) == 1 and full["spearman"].iloc[0] < 0.9
    blind = randomisation_test(model, x, method="gradcam", mode="full", make=lambda m: _ImageOnly(m))
    assert blind["spearman"].iloc[0] == pytest.approx(1.0)
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))
    with pytest.raises(ExplainError, match="saliency map"):
        randomisation_test(model, x, method="twin")


def test_sanity_check_on_a_stored_model(sqlite_settings):
    dataset_id = make_image_dataset(sqlite_settings, classes=CLASSES, per_class={"test": 2}, size=SIZE)
    register_model(sqlite_settings, name="m", dataset_id=dataset_id, module=build_model("simple_cnn", 2),
                   spec=ModelSpec(arch="simple_cnn", class_names=CLASSES, img_size=SIZE, mean=IMAGENET_MEAN,
                                  std=IMAGENET_STD))
    frame = sanity_check(sqlite_settings, model="m", methods=["gradcam", "lime"], n_items=2, mode="full",
                         options=ExplainOptions(params={"lime": {"num_samples": 16}}, device="cpu"))
    assert list(frame["method"]) == ["gradcam", "lime"] and frame["spearman"].notna().all()
