"""Classifier architectures by name: the five built-ins (a small sequential CNN, torchvision
ResNet/VGG) and, through ``trustlab.models.zoo``, ``torchvision:NAME``, ``timm:NAME`` and
``python:package.module:factory``; each with a new head for the dataset's classes.

Nothing downloads: models are built without weights; pretrained weights come from a local file
(``weights=PATH``: a state dict, a timm checkpoint or safetensors, see ``trustlab.models.weights``) or,
for the built-ins, the local torch hub cache (``weights="torch-cache"``).

The public API (used by checkpoints, training and explanations): ``check_arch``, ``build_model``,
``build_kwargs``, ``head_module``/``head_prefix``, ``cam_target_layer``, ``model_family``,
``freeze_backbone``, ``load_backbone_weights``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torchvision import models as tvm

from trustlab.models.errors import ArchError
from trustlab.models.weights import fit_weights, read_state_dict
from trustlab.models.zoo import (
    FORMS,
    build_zoo_model,
    check_zoo_arch,
    find_head_name,
    model_family,
    split_arch,
    unknown_arch,
    zoo_cam_layer,
)

ARCHS = ("simple_cnn", "resnet18", "resnet34", "resnet50", "vgg16")
# Prefix of the state-dict keys of each architecture's classification head (replaced per dataset).
HEAD_PREFIX = {
    "simple_cnn": "classifier.",
    "resnet18": "fc.",
    "resnet34": "fc.",
    "resnet50": "fc.",
    "vgg16": "classifier.6.",
}
# Passing this instead of a path looks in the torch hub cache for torchvision's ImageNet file.
TORCH_CACHE = "torch-cache"
SIMPLE_CNN_WIDTHS = (32, 64, 128, 128)
# Global pooling of simple_cnn. Max pooling lets one small, strong feature (a glyph of the demo's
# contact text) decide a class instead of being averaged away with the background: on the 4-class
# demo (1,200 images, 64 px, 10 epochs) test accuracy rose from 0.69 (average) to 0.77 (max), see
# benchmarks/bench_train.py --demo. "avg" keeps the classic CAM network.
SIMPLE_CNN_POOLS = {"max": nn.AdaptiveMaxPool2d, "avg": nn.AdaptiveAvgPool2d}
SIMPLE_CNN_POOL = "max"
# The attribute of a built model holding the kwargs that rebuild it (saved in checkpoints' meta).
BUILD_KWARGS_ATTR = "trustlab_build_kwargs"
__all__ = ["ARCHS", "FORMS", "HEAD_PREFIX", "TORCH_CACHE", "SimpleCNN", "build_kwargs", "build_model",
           "cam_target_layer", "check_arch", "count_params", "freeze_backbone", "head_module",
           "head_prefix", "load_backbone_weights", "model_family", "read_state_dict"]


def _global_pool(kind: str) -> nn.Module:
    pool = SIMPLE_CNN_POOLS[kind](1)
    pool.register_buffer("is_max", torch.tensor(kind == "max"))
    return pool


class SimpleCNN(nn.Module):
    """A small sequential CNN: conv-BatchNorm-ReLU blocks, global (max or average) pooling, one
    linear layer.

    The pooled features feed the head directly, so class activation maps (CAM: the head's weights
    times the last block's maps) are defined; with max pooling each channel's score comes from its
    peak, so Grad-CAM equals CAM up to scale as with average pooling.
    Input [N, 3, S, S] (any S >= 16), output logits [N, num_classes].
    """

    def __init__(self, num_classes: int, widths: tuple[int, ...] = SIMPLE_CNN_WIDTHS, *,
                 pool: str = SIMPLE_CNN_POOL) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        in_ch = 3
        for i, width in enumerate(widths):
            layers += [nn.Conv2d(in_ch, width, 3, padding=1, bias=False), nn.BatchNorm2d(width),
                       nn.ReLU(inplace=True)]
            # No pooling after the last block: it keeps the CAM resolution at S/8.
            if i < len(widths) - 1:
                layers.append(nn.MaxPool2d(2))
            in_ch = width
        self.features = nn.Sequential(*layers)
        if pool not in SIMPLE_CNN_POOLS:
            raise ArchError(f"simple_cnn pool must be one of {', '.join(SIMPLE_CNN_POOLS)}, got {pool!r}")
        # The pooling travels in the state dict ("pool.is_max"): a checkpoint restores the pooling
        # it was trained with; one saved before pooling was recorded (always average) loads as average.
        self.pool = _global_pool(pool)
        self.flatten = nn.Flatten()
        self.classifier = nn.Linear(in_ch, num_classes)

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs) -> None:
        key = prefix + "pool.is_max"
        if key in state_dict:  # runs before the children load: the pool module is swapped first
            self.pool = _global_pool("max" if bool(state_dict[key]) else "avg")
        elif prefix + "classifier.weight" in state_dict:  # an older checkpoint without the pool choice: avg
            self.pool = _global_pool("avg")
            state_dict[key] = torch.tensor(False)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.flatten(self.pool(self.features(x))))


_TORCHVISION: dict[str, Callable[..., nn.Module]] = {
    "resnet18": tvm.resnet18,
    "resnet34": tvm.resnet34,
    "resnet50": tvm.resnet50,
    "vgg16": tvm.vgg16,
}
_IMAGENET_WEIGHTS = {
    "resnet18": tvm.ResNet18_Weights.IMAGENET1K_V1,
    "resnet34": tvm.ResNet34_Weights.IMAGENET1K_V1,
    "resnet50": tvm.ResNet50_Weights.IMAGENET1K_V1,
    "vgg16": tvm.VGG16_Weights.IMAGENET1K_V1,
}


def check_arch(arch: str) -> str:
    """``arch`` unchanged when it can be built here; else ArchError listing the forms and close names.

    A built-in name, ``torchvision:NAME`` (a classification model of torchvision.models),
    ``timm:NAME`` (a timm model, optionally ``NAME.tag``) or ``python:package.module:factory`` (the
    module is imported and the factory looked up).
    """
    if not isinstance(arch, str) or not arch.strip():
        raise ArchError(f"architecture must be a non-empty name, got {arch!r}")
    if arch in ARCHS:
        return arch
    if not split_arch(arch)[0]:
        raise unknown_arch(arch, ARCHS)
    return check_zoo_arch(arch, ARCHS)


def head_prefix(model: nn.Module, arch: str) -> str:
    """The state-dict prefix of the classification head, e.g. ``"fc."`` or ``"head."``."""
    check_arch(arch)
    if arch in HEAD_PREFIX:
        return HEAD_PREFIX[arch]
    return find_head_name(model) + "."


def head_module(model: nn.Module, arch: str) -> nn.Module:
    """The final layer (an nn.Linear, for SqueezeNet an nn.Conv2d); its input is the penultimate
    feature vector."""
    check_arch(arch)
    if arch == "simple_cnn":
        return model.classifier
    if arch == "vgg16":
        return model.classifier[6]
    if arch in ARCHS:
        return model.fc
    return model.get_submodule(find_head_name(model))


def _set_head(model: nn.Module, arch: str, head: nn.Linear) -> None:
    if arch == "simple_cnn":
        model.classifier = head
    elif arch == "vgg16":
        model.classifier[6] = head
    else:
        model.fc = head


def cam_target_layer(model: nn.Module, arch: str) -> nn.Module:
    """The last convolutional stage, the usual Grad-CAM target layer.

    For a model that is not a CNN (``model_family(model)`` is "vit", "swin", "transformer" or
    "other") this raises ArchError: transformers need a token layer and a reshape, chosen in
    ``trustlab.explain``.
    """
    check_arch(arch)
    if arch == "simple_cnn":
        return model.features[-1]
    if arch == "vgg16":
        # features[-1] is the last max-pool; the ReLU before it keeps twice the resolution.
        return model.features[-2]
    if arch in ARCHS:
        return model.layer4[-1]
    return zoo_cam_layer(model, arch)


def build_model(arch: str, num_classes: int, *, weights: str | Path | None = None,
                img_size: int | None = None, notes: list[str] | None = None) -> nn.Module:
    """A fresh classifier for ``num_classes`` classes.

    Parameters
    ----------
    arch: a built-in name (ARCHS) or one of FORMS (see ``check_arch``).
    num_classes: size of the new head (>= 2).
    weights: None (random init), a local weights file, or (built-ins only) ``"torch-cache"`` for
        torchvision's ImageNet file in the local torch hub cache. Built-ins load every weight but the
        head's; other architectures also load the head when it has the dataset's class count, else
        drop it with a note. A file for another architecture raises ArchError naming the keys that
        do not fit.
    img_size: side of the input images; ViT-like models are built for it (``build_kwargs``).
    notes: when given, what loading the weights dropped is appended to it.

    Returns
    -------
    nn.Module mapping images [N, 3, S, S] (float, normalised) to logits [N, num_classes];
    ``build_kwargs(model)`` gives the kwargs that rebuild it (saved in checkpoints).
    """
    check_arch(arch)
    if num_classes < 2:
        raise ArchError(f"a classifier needs at least 2 classes, got {num_classes}")
    kwargs: dict[str, Any] = {}
    if arch == "simple_cnn":
        model: nn.Module = SimpleCNN(num_classes, pool=SIMPLE_CNN_POOL)
    elif arch in ARCHS:
        model = _TORCHVISION[arch](weights=None)
        old = head_module(model, arch)
        _set_head(model, arch, nn.Linear(old.in_features, num_classes))
    else:
        model, kwargs = build_zoo_model(arch, num_classes, img_size=img_size)
    setattr(model, BUILD_KWARGS_ATTR, dict(kwargs))
    if weights is not None and str(weights).lower() not in ("", "none"):
        found = load_backbone_weights(model, arch, _resolve_weights(arch, weights))
        if notes is not None:
            notes.extend(found)
    return model


def build_kwargs(model: nn.Module) -> dict[str, Any]:
    """The keyword arguments ``build_model`` was given that shape the model (e.g. ``{"img_size": 64}``
    for a ViT built at 64 px); ``build_model(arch, k, **build_kwargs(model))`` rebuilds it."""
    return dict(getattr(model, BUILD_KWARGS_ATTR, None) or {})


def _resolve_weights(arch: str, weights: str | Path) -> Path:
    if str(weights) == TORCH_CACHE:
        if arch not in _IMAGENET_WEIGHTS:
            raise ArchError(f"there are no torchvision ImageNet weights for {arch!r} in the torch cache; "
                            "pass --weights PATH (a local state dict, timm checkpoint or safetensors file)")
        filename = _IMAGENET_WEIGHTS[arch].url.rsplit("/", 1)[-1]
        path = Path(torch.hub.get_dir()) / "checkpoints" / filename
        if not path.is_file():
            raise ArchError(f"{path} is not in the torch cache (nothing is downloaded): copy "
                            f"torchvision's {filename} there or pass --weights PATH")
        return path
    path = Path(weights).expanduser()
    if not path.is_file():
        raise ArchError(f"weights file {path} does not exist")
    return path


def load_backbone_weights(model: nn.Module, arch: str, path: Path) -> list[str]:
    """Load the weights of ``path`` into ``model`` (see ``build_model``); returns notes on what was
    dropped; raises ArchError when they do not fit."""
    return fit_weights(model, Path(path), arch=arch, head_prefix=head_prefix(model, arch),
                       always_drop_head=arch in ARCHS)


def freeze_backbone(model: nn.Module, arch: str) -> None:
    """Train only the head: every other parameter stops requiring gradients."""
    head_params = {id(p) for p in head_module(model, arch).parameters()}
    for param in model.parameters():
        param.requires_grad = id(param) in head_params


def count_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
