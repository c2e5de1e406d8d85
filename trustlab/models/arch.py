"""Classifier architectures: a small sequential CNN and torchvision ResNet/VGG with a new head.

torchvision models are always built with ``weights=None`` (nothing downloads); pretrained weights come
from a local torchvision state-dict file (``weights=PATH``) or from the local torch hub cache
(``weights="torch-cache"``), and every weight except the classification head is loaded.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn
from torchvision import models as tvm

from trustlab.models.errors import ArchError

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
# How many key names an error message lists before it says "and N more".
KEYS_SHOWN = 5


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
        elif prefix + "classifier.weight" in state_dict:  # a whole model saved before issue 14
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
    if arch not in ARCHS:
        raise ArchError(f"unknown architecture {arch!r}: choose one of {', '.join(ARCHS)}")
    return arch


def head_module(model: nn.Module, arch: str) -> nn.Linear:
    """The final linear layer (its input is the penultimate feature vector)."""
    check_arch(arch)
    if arch == "simple_cnn":
        return model.classifier
    if arch == "vgg16":
        return model.classifier[6]
    return model.fc


def _set_head(model: nn.Module, arch: str, head: nn.Linear) -> None:
    if arch == "simple_cnn":
        model.classifier = head
    elif arch == "vgg16":
        model.classifier[6] = head
    else:
        model.fc = head


def cam_target_layer(model: nn.Module, arch: str) -> nn.Module:
    """The last convolutional stage, the usual Grad-CAM target layer."""
    check_arch(arch)
    if arch == "simple_cnn":
        return model.features[-1]
    if arch == "vgg16":
        # features[-1] is the last max-pool; the ReLU before it keeps twice the resolution.
        return model.features[-2]
    return model.layer4[-1]


def build_model(arch: str, num_classes: int, *, weights: str | Path | None = None) -> nn.Module:
    """A fresh classifier for ``num_classes`` classes.

    Parameters
    ----------
    arch: one of ARCHS.
    num_classes: size of the new head (>= 2).
    weights: None (random init), a local torchvision state-dict file, or ``"torch-cache"`` for
        torchvision's ImageNet file in the local torch hub cache. Every weight except the head's
        is loaded; a file for another architecture raises ArchError naming the keys that do not fit.

    Returns
    -------
    nn.Module mapping images [N, 3, S, S] (float, normalised) to logits [N, num_classes].
    """
    check_arch(arch)
    if num_classes < 2:
        raise ArchError(f"a classifier needs at least 2 classes, got {num_classes}")
    if arch == "simple_cnn":
        model: nn.Module = SimpleCNN(num_classes, pool=SIMPLE_CNN_POOL)
    else:
        model = _TORCHVISION[arch](weights=None)
        old = head_module(model, arch)
        _set_head(model, arch, nn.Linear(old.in_features, num_classes))
    if weights is not None and str(weights).lower() not in ("", "none"):
        load_backbone_weights(model, arch, _resolve_weights(arch, weights))
    return model


def _resolve_weights(arch: str, weights: str | Path) -> Path:
    if str(weights) == TORCH_CACHE:
        if arch not in _IMAGENET_WEIGHTS:
            raise ArchError(f"there are no torchvision ImageNet weights for {arch!r}; pass a file")
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


def _brief(keys: list[str]) -> str:
    shown = ", ".join(keys[:KEYS_SHOWN])
    return shown + (f" and {len(keys) - KEYS_SHOWN} more" if len(keys) > KEYS_SHOWN else "")


def read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """A state dict from a file: a plain one, or a trustlab checkpoint's ``state_dict`` entry."""
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unpickling failure means "not a state dict"
        raise ArchError(f"{path} is not a readable torch state-dict file: {exc}") from exc
    if isinstance(obj, dict) and isinstance(obj.get("state_dict"), dict):
        obj = obj["state_dict"]
    if not isinstance(obj, dict) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise ArchError(f"{path} does not hold a state dict (a mapping of names to tensors)")
    return obj


def load_backbone_weights(model: nn.Module, arch: str, path: Path) -> None:
    """Load every non-head weight of ``path`` into ``model``; raise ArchError when they do not fit."""
    prefix = HEAD_PREFIX[arch]
    source = {k: v for k, v in read_state_dict(path).items() if not k.startswith(prefix)}
    target = {k: v for k, v in model.state_dict().items() if not k.startswith(prefix)}
    missing = sorted(set(target) - set(source))
    unexpected = sorted(set(source) - set(target))
    wrong_shape = sorted(k for k in set(source) & set(target) if source[k].shape != target[k].shape)
    if missing or unexpected or wrong_shape:
        parts = []
        if missing:
            parts.append(f"missing keys: {_brief(missing)}")
        if unexpected:
            parts.append(f"unexpected keys: {_brief(unexpected)}")
        if wrong_shape:
            parts.append(f"keys with another shape: {_brief(wrong_shape)}")
        raise ArchError(f"weights file {path} does not fit architecture {arch!r} ("
                        + "; ".join(parts) + "); pass a torchvision state dict of the same architecture")
    model.load_state_dict(source, strict=False)


def freeze_backbone(model: nn.Module, arch: str) -> None:
    """Train only the head: every other parameter stops requiring gradients."""
    head_params = {id(p) for p in head_module(model, arch).parameters()}
    for param in model.parameters():
        param.requires_grad = id(param) in head_params


def count_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
