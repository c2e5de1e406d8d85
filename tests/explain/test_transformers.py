"""CAM targets of any architecture (random init, no training): the layer and reshape found for timm
and torchvision ViT, DeiT, Swin and ConvNeXt, named layers, the new pytorch-grad-cam methods, the
methods that refuse a model with a reason, twins' embedding, and ``--target-layer`` plumbing."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torchvision
from torch import nn

from trustlab.explain import get_explainer
from trustlab.explain.base import ExplainError, params_key
from trustlab.explain.cam_target import TokensToMap, cam_target
from trustlab.explain.layers import LayerNotFound, penultimate_features
from trustlab.explain.precompute import resolve_params, with_target_layer
from trustlab.explanation_methods import names_where
from trustlab.models.arch import build_model

timm = pytest.importorskip("timm")
SIZE = 64
NEW_METHODS = ("ablationcam", "xgradcam", "eigengradcam", "shapleycam", "finercam", "kpcacam")


def _vit(name: str = "vit_tiny_patch16_224", **kwargs) -> nn.Module:
    return timm.create_model(name, pretrained=False, num_classes=3, img_size=SIZE, **kwargs).eval()


def _torchvision_vit() -> nn.Module:
    model = torchvision.models.VisionTransformer(
        image_size=SIZE, patch_size=16, num_layers=2, num_heads=2, hidden_dim=32, mlp_dim=64, num_classes=3
    )
    nn.init.normal_(model.heads.head.weight)  # torchvision starts the head at zero: constant logits
    return model.eval()


MODELS = {
    "timm vit": (_vit, "blocks.11.norm1", "tokens"),
    "timm deit distilled": (lambda: _vit("deit_tiny_distilled_patch16_224"), "blocks.11.norm1", "tokens"),
    "timm swin": (
        lambda: _vit("swin_tiny_patch4_window7_224", window_size=2, depths=(1, 1, 1, 1)), "norm", "nhwc"
    ),
    "timm convnext": (
        lambda: timm.create_model("convnext_atto", pretrained=False, num_classes=3).eval(), "norm_pre", "nchw"
    ),
    "torchvision vit": (_torchvision_vit, "encoder.layers.encoder_layer_1.ln_1", "tokens"),
    "torchvision convnext": (
        lambda: torchvision.models.convnext_tiny(num_classes=3).eval(), "features", "nchw"
    ),
    "resnet18": (lambda: build_model("resnet18", 3).eval(), "layer4.1", "nchw"),
}


@pytest.mark.parametrize("arch", sorted(MODELS))
def test_target_layer_and_reshape_are_found_for_each_family(arch):
    build, name, layout = MODELS[arch]
    torch.manual_seed(0)
    model = build()
    target = cam_target(model)
    assert (target.name, target.layout) == (name, layout)
    x = torch.randn(2, 3, SIZE, SIZE, generator=torch.Generator().manual_seed(0))  # normalised images
    with get_explainer("gradcam")(model) as explainer:
        maps = explainer.explain(x).maps
    assert maps.shape == (2, SIZE, SIZE) and (np.ptp(maps.reshape(2, -1), axis=1) > 0).all()


def test_token_grid_follows_the_input_and_drops_every_prefix_token():
    deit = _vit("deit_tiny_distilled_patch16_224")  # class + distillation token
    tokens = torch.arange(2 * 18 * 5, dtype=torch.float32).view(2, 18, 5)
    reshape = cam_target(deit).reshape
    assert isinstance(reshape, TokensToMap)
    reshape.set_input(torch.zeros(1, 3, SIZE, SIZE))
    grid = reshape(tokens)
    assert grid.shape == (2, 5, 4, 4)
    assert torch.equal(grid[0, :, 0, 0], tokens[0, 2])  # first patch token, after the two prefix tokens
    registers = _vit(reg_tokens=4)  # class + 4 register tokens
    x = torch.rand(1, 3, SIZE, SIZE)
    with get_explainer("layercam")(registers) as explainer:
        assert explainer.explain(x).maps.shape == (1, SIZE, SIZE)


@pytest.mark.parametrize("method", NEW_METHODS)
def test_new_pytorch_grad_cam_methods_run_on_a_vit(method):
    torch.manual_seed(0)
    model = _vit()
    x = torch.rand(2, 3, SIZE, SIZE, generator=torch.Generator().manual_seed(0))
    before = x.clone()
    with get_explainer(method)(model) as explainer:
        maps = explainer.explain(x, [0, 1]).maps
    assert torch.equal(x, before)
    assert maps.shape == (2, SIZE, SIZE) and np.isfinite(maps).all()


def test_named_target_layer_is_used_and_a_wrong_name_lists_close_matches():
    model = _vit()
    with get_explainer("gradcam")(model, target_layer="blocks.10.norm1") as explainer:
        assert explainer.target_layer is model.blocks[10].norm1
        assert explainer.params["target_layer"] == "blocks.10.norm1"
        assert explainer.explain(torch.rand(1, 3, SIZE, SIZE)).maps.shape == (1, SIZE, SIZE)
    with pytest.raises(LayerNotFound, match=r"blocks\.11\.norm1"):
        get_explainer("gradcam")(model, target_layer="blocks.11.norm")
    with pytest.raises(ExplainError, match="outputs shape"):
        get_explainer("gradcam")(model, target_layer="head")


def test_fullgrad_and_cam_refuse_a_transformer_with_the_reason_and_fullgrad_runs_on_a_cnn():
    with pytest.raises(ExplainError, match="Conv2d/BatchNorm2d.*blocks.0.norm1"):
        get_explainer("fullgrad")(_vit())
    with pytest.raises(ExplainError, match="class token"):
        get_explainer("cam")(_vit())
    with pytest.raises(ExplainError, match="target_layer"):
        get_explainer("fullgrad")(build_model("resnet18", 3), target_layer="layer4")
    with get_explainer("fullgrad")(build_model("resnet18", 3).eval()) as explainer:
        maps = explainer.explain(torch.rand(2, 3, SIZE, SIZE)).maps
    assert maps.shape == (2, SIZE, SIZE) and (np.ptp(maps.reshape(2, -1), axis=1) > 0).all()


def test_twins_embed_any_model_at_the_head_input_or_a_named_layer():
    model = _vit()
    x = torch.rand(3, 3, SIZE, SIZE)
    assert penultimate_features(model, x).shape == (3, model.embed_dim)
    assert penultimate_features(model, x, layer="blocks.5").shape == (3, 17 * model.embed_dim)
    convnext = torchvision.models.convnext_tiny(num_classes=3).eval()
    assert penultimate_features(convnext, x).shape == (3, 768)


def test_target_layer_reaches_the_cam_methods_and_changes_the_key_only_when_given():
    methods = ["gradcam", "fullgrad", "lime"]
    params = with_target_layer(methods, {"lime": {"num_samples": 10}}, "blocks.10.norm1")
    assert params == {"lime": {"num_samples": 10}, "gradcam": {"target_layer": "blocks.10.norm1"}}
    assert with_target_layer(methods, None, None) is None
    assert resolve_params("gradcam", None) == {}
    assert params_key("gradcam", resolve_params("gradcam", None)) == params_key("gradcam", {})
    assert resolve_params("gradcam", params) == {"target_layer": "blocks.10.norm1"}
    with pytest.raises(ExplainError, match="takes a target layer"):
        with_target_layer(["lime"], None, "blocks.10.norm1")
    takers = {m for m in names_where(family="cam") if "target_layer" in get_explainer(m).optional_params}
    assert takers == set(names_where(family="cam")) - {"fullgrad"}


def test_explain_items_stores_a_named_target_layer_under_its_own_key(sqlite_settings):
    from tests.helpers.builders import make_image_dataset
    from trustlab.explain.precompute import ExplainOptions, explain_items
    from trustlab.models.checkpoint import ModelSpec, register_model
    from trustlab.models.images import IMAGENET_MEAN, IMAGENET_STD

    dataset_id = make_image_dataset(sqlite_settings, per_class={"train": 2, "test": 1}, size=32)
    register_model(sqlite_settings, name="m", dataset_id=dataset_id, module=build_model("simple_cnn", 2),
                   spec=ModelSpec(arch="simple_cnn", class_names=("square", "disc"), img_size=32,
                                  mean=IMAGENET_MEAN, std=IMAGENET_STD))
    from trustlab.db.engine import unit_of_work
    from trustlab.db.queries.items import list_items

    with unit_of_work(sqlite_settings) as session:
        ids = [item.id for item in list_items(session, dataset_id=dataset_id, split="test")]
    common = {"model": "m", "item_ids": ids}
    fast = {"faithfulness": False, "device": "cpu"}
    default = explain_items(sqlite_settings, methods=["gradcam", "twin"], options=ExplainOptions(**fast),
                            **common)
    named = explain_items(sqlite_settings, methods=["gradcam", "twin"],
                          options=ExplainOptions(target_layer="features.2", **fast), **common)
    assert default[0].params == {} and named[0].params == {"target_layer": "features.2"}
    assert default[0].params_key != named[0].params_key
    assert named[1].params_key == default[1].params_key  # twins take no target layer
    with pytest.raises(LayerNotFound, match="features.2"):
        explain_items(sqlite_settings, methods=["gradcam"],
                      options=ExplainOptions(target_layer="features.22", **fast), **common)
    by_layer = {"twin": {"feature_layer": "features.2"}}
    layered = explain_items(sqlite_settings, methods=["twin"],
                            options=ExplainOptions(params=by_layer, **fast), **common)
    assert layered[0].params == {"k": 5, "feature_layer": "features.2"} and layered[0].neighbours


def test_a_stored_timm_vit_is_explained_and_sanity_checked_end_to_end(sqlite_settings):
    """``--arch timm:…`` models (trustlab.models.arch): precompute finds the token layer, twins the
    head's input, ``--target-layer`` picks another block, and the sanity check runs on the ViT."""
    from tests.helpers.builders import make_image_dataset
    from trustlab.db.engine import unit_of_work
    from trustlab.db.queries.items import list_items
    from trustlab.explain.precompute import ExplainOptions, explain_items
    from trustlab.explain.sanity import sanity_check
    from trustlab.models.checkpoint import ModelSpec, register_model
    from trustlab.models.images import IMAGENET_MEAN, IMAGENET_STD

    arch, size = "timm:vit_tiny_patch16_224", 32
    dataset_id = make_image_dataset(sqlite_settings, per_class={"train": 2, "test": 1}, size=size)
    torch.manual_seed(0)
    module = build_model(arch, 2, img_size=size).eval()
    register_model(sqlite_settings, name="vit", dataset_id=dataset_id, module=module,
                   spec=ModelSpec(arch=arch, class_names=("square", "disc"), img_size=size,
                                  mean=IMAGENET_MEAN, std=IMAGENET_STD))
    with unit_of_work(sqlite_settings) as session:
        ids = [item.id for item in list_items(session, dataset_id=dataset_id, split="test")]
    common = {"model": "vit", "item_ids": ids}
    rows = explain_items(sqlite_settings, methods=["gradcam", "ablationcam", "twin", "lime"],
                         options=ExplainOptions(params={"lime": {"num_samples": 16}}, device="cpu"), **common)
    assert [r.method for r in rows[:4]] == ["gradcam", "ablationcam", "twin", "lime"]
    assert rows[0].faithfulness["deletion_auc"] >= 0 and rows[2].neighbours
    named = explain_items(sqlite_settings, methods=["gradcam"],
                          options=ExplainOptions(target_layer="blocks.5.norm1", device="cpu"), **common)
    assert named[0].params == {"target_layer": "blocks.5.norm1"} and named[0].params_key != rows[0].params_key
    frame = sanity_check(sqlite_settings, model="vit", methods=["gradcam"], n_items=2,
                         options=ExplainOptions(device="cpu"))
    assert frame["randomised"].tolist()[-2:] == ["patch_embed", "cls_token+pos_embed"]
    with pytest.raises(ExplainError, match="fullgrad needs the bias"):
        explain_items(sqlite_settings, methods=["fullgrad"], options=ExplainOptions(device="cpu"), **common)
