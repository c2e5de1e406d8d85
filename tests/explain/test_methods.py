"""Every registered method on every test model: shapes, no input mutation, hooks released, no growth."""

from __future__ import annotations

import gc
import tracemalloc

import numpy as np
import pytest
import torch
from torch import nn
from torchvision.models import resnet18

from trustlab.explain.base import EXPLAINERS, Explainer, ExplainError, get_explainer, params_key
from trustlab.explain.cam_target import default_target_layer
from trustlab.explain.layers import penultimate_features
from trustlab.explain.twins import build_gallery
from trustlab.explanation_methods import METHOD_NAMES
from trustlab.models.arch import SimpleCNN, build_model, cam_target_layer

ALL_METHODS = METHOD_NAMES
# Small settings so that the whole matrix runs in seconds on 2 CPU cores.
FAST_PARAMS = {
    "lime": {"num_samples": 40},
    "kernel_shap": {"n_samples": 40},
    "integrated_gradients": {"n_steps": 8},
    "occlusion": {"window": 16, "stride": 16},
}
# (name, builder, input side): resnet18 needs 64 px for a 2x2 layer4; simple_cnn is 4x4 at 32 px.
MODELS = {
    "simple_cnn": (lambda: build_model("simple_cnn", 3), 32),
    "resnet18": (lambda: resnet18(weights=None, num_classes=2), 64),
}


def _hook_count(model: nn.Module) -> int:
    return sum(
        len(m._forward_hooks)
        + len(m._forward_pre_hooks)
        + len(m._backward_hooks)
        + len(m._backward_pre_hooks)
        for m in model.modules()
    )


@pytest.fixture(scope="module", params=list(MODELS))
def model_and_input(request):
    torch.manual_seed(0)
    build, side = MODELS[request.param]
    model = build().eval()
    x = torch.rand(2, 3, side, side, generator=torch.Generator().manual_seed(1))
    return model, x


def _gallery(model: nn.Module, x: torch.Tensor):
    gallery_x = torch.rand(6, *x.shape[1:], generator=torch.Generator().manual_seed(2))
    return build_gallery(
        lambda t: penultimate_features(model, t), [gallery_x], [0, 1, 0, 1, 0, 1], [10, 11, 12, 13, 14, 15]
    )


def _make(method: str, model: nn.Module, x: torch.Tensor, gallery=None) -> Explainer:
    cls = get_explainer(method)
    kwargs = dict(FAST_PARAMS.get(method, {}))
    if cls.kind == "examples":
        kwargs["gallery"] = gallery or _gallery(model, x)
    return cls(model, **kwargs)


def test_registry_names_the_contract_methods():
    assert set(ALL_METHODS) <= set(EXPLAINERS)  # complete without any get_explainer call first
    with pytest.raises(ExplainError, match="known methods"):
        get_explainer("nope")
    for name, cls in EXPLAINERS.items():
        assert cls.__doc__, f"{name} is undocumented"


@pytest.mark.parametrize("method", ALL_METHODS)
def test_method_shapes_and_input_untouched(method, model_and_input):
    model, x = model_and_input
    if method == "scorecam" and x.shape[-1] > 32:
        x = x[:1]  # one forward per channel: resnet18's 512 channels on one image is enough
    before_x = x.clone()
    before_params = [p.detach().clone() for p in model.parameters()]
    hooks = _hook_count(model)
    with _make(method, model, x) as explainer:
        result = explainer.explain(x, targets=[0, 1][: len(x)])
    assert torch.equal(x, before_x)
    assert all(torch.equal(a, b) for a, b in zip(before_params, model.parameters(), strict=True))
    assert _hook_count(model) == hooks
    assert result.targets == [0, 1][: len(x)]
    if explainer.kind == "map":
        assert result.maps.shape == (len(x), x.shape[2], x.shape[3])
        assert result.maps.dtype == np.float32 and np.isfinite(result.maps).all()
    else:
        assert len(result.neighbours) == len(x) and all(len(n) == 3 for n in result.neighbours)
    assert all(p.grad is None for p in model.parameters())


def test_unknown_param_is_named():
    with pytest.raises(ExplainError, match="num_sample"):
        get_explainer("lime")(build_model("simple_cnn", 2), num_sample=10)


def test_bad_shape_is_explained():
    with get_explainer("gradcam")(build_model("simple_cnn", 2)) as explainer, pytest.raises(ExplainError):
        explainer.explain(torch.rand(2, 1, 32, 32))


def test_default_target_layers_match_models_arch():
    for arch in ("simple_cnn", "resnet18", "vgg16"):
        model = build_model(arch, 2)
        assert default_target_layer(model) is cam_target_layer(model, arch)
    odd = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 2))
    assert default_target_layer(odd) is odd[1]


def test_params_key_is_canonical():
    assert params_key("lime", {"a": 1, "b": 2}) == params_key("lime", {"b": 2, "a": 1})
    assert params_key("lime", {"a": 1}) != params_key("gradcam", {"a": 1})


LEAK_CHECKED = ("gradcam", "cam", "lime", "twin", "integrated_gradients", "guided_backprop")


@pytest.mark.parametrize("method", LEAK_CHECKED)
def test_fifty_calls_do_not_grow_memory(method):
    torch.manual_seed(0)
    model = SimpleCNN(2, widths=(4, 8)).eval()  # tiny: tracemalloc slows every Python call
    x = torch.rand(2, 3, 16, 16)
    gallery = _gallery(model, x)
    hooks = _hook_count(model)

    def run(n: int) -> None:
        for _ in range(n):
            with _make(method, model, x, gallery) as explainer:
                explainer.explain(x)

    run(5)  # warm caches (captum, torch dispatch)
    gc.collect()
    objects = len(gc.get_objects())
    tracemalloc.start()
    start, _ = tracemalloc.get_traced_memory()
    run(50)
    gc.collect()
    end, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert _hook_count(model) == hooks
    assert len(gc.get_objects()) - objects < 200
    assert end - start < 512 * 1024  # bytes


def test_cam_refuses_a_network_without_gap_into_one_linear_layer():
    mlp_head = nn.Sequential(
        nn.Conv2d(3, 4, 3),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(4, 8),
        nn.ReLU(),
        nn.Linear(8, 2),
    )
    with get_explainer("cam")(mlp_head) as explainer, pytest.raises(ExplainError, match="use gradcam"):
        explainer.explain(torch.rand(1, 3, 16, 16))
    assert _hook_count(mlp_head) == 0
