"""Architectures by name beyond the five built-ins: ``torchvision:NAME``, ``timm:NAME`` and
``python:package.module:factory``.

Nothing downloads: torchvision builders get ``weights=None`` and timm ``pretrained=False``; pretrained
weights come only from a local file (``trustlab.models.weights``). Each model is built with a head for
the dataset's classes. ``model_family`` says what kind of network a built model is, so explanation code
can pick its target layer (CNN) or token reshape (ViT, Swin) without knowing where the model came from.
"""

from __future__ import annotations

import difflib
import importlib
import inspect
import re
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from trustlab.models.errors import ArchError
from trustlab.wording import did_you_mean, suggest

SOURCES = ("torchvision", "timm", "python")
FORMS = ("torchvision:NAME", "timm:NAME", "python:package.module:factory")
# ModelVersion.arch is a String(ARCH_MAX_LENGTH) column (migration 0007 widened it from 50).
ARCH_MAX_LENGTH = 200
PYTHON_TARGET = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")
CLOSE_MATCHES = 5
CLOSE_CUTOFF = 0.6
# The input size torchvision's and timm's models are defined at, when their config does not say.
DEFAULT_INPUT_SIZE = 224
# torchvision builders whose defaults do not fit a plain classifier: auxiliary heads off (the forward
# pass then returns one logits tensor), weights initialised as for training from scratch.
_TORCHVISION_EXTRA: dict[str, dict[str, Any]] = {
    "googlenet": {"aux_logits": False, "init_weights": True},
    "inception_v3": {"aux_logits": False, "init_weights": True},
}
# What a built model is: "cnn" (spatial feature maps [N, C, h, w]), "vit" (a token sequence with
# prefix tokens such as CLS: ViT, DeiT), "swin" (windowed tokens laid out [N, h, w, C]),
# "transformer" (other attention models, e.g. MaxViT), "other" (no convolution, no attention).
FAMILIES = ("cnn", "vit", "swin", "transformer", "other")
# Pooling layers are not Grad-CAM targets: their maps are coarser than the layer before.
_POOLING = (nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d, nn.AvgPool2d, nn.MaxPool2d, nn.Flatten)
TRACE_SIZE = 224


def split_arch(arch: str) -> tuple[str, str]:
    """``"timm:vit_tiny_patch16_224"`` -> ``("timm", "vit_tiny_patch16_224")``; ("", arch) otherwise."""
    source, sep, name = arch.partition(":")
    return (source, name) if sep and source in SOURCES else ("", arch)


def torchvision_names() -> list[str]:
    """Every classification model of ``torchvision.models`` (not detection, segmentation, video)."""
    from torchvision import models as tvm

    return list(tvm.list_models(module=tvm))


def timm_names() -> list[str]:
    import timm

    return list(timm.list_models())


def unknown_arch(arch: str, builtins: Sequence[str], *, reason: str = "") -> ArchError:
    """An error naming the accepted forms and the names closest to ``arch``: names that extend it first
    (difflib alone misses "vit_tiny" -> vit_tiny_patch16_224), then similar ones."""
    _, bare = split_arch(arch)
    bare = bare.rsplit(":", 1)[-1]
    candidates: dict[str, list[str]] = {}
    for name in builtins:
        candidates.setdefault(name, []).append(name)
    for name in torchvision_names():
        candidates.setdefault(name, []).append(f"torchvision:{name}")
    for name in timm_names():
        candidates.setdefault(name, []).append(f"timm:{name}")
    # Names that extend what was typed ("vit_tiny" -> vit_tiny_patch16_224) first, then similar ones.
    extending = sorted((n for n in candidates if n.startswith(bare) and n != bare), key=len)
    similar = difflib.get_close_matches(bare, list(candidates), n=CLOSE_MATCHES, cutoff=CLOSE_CUTOFF)
    close = list(dict.fromkeys(similar[:1] + extending[:CLOSE_MATCHES] + similar))[:CLOSE_MATCHES]
    suggestions = [full for name in close for full in candidates[name]][:CLOSE_MATCHES]
    hint = "; " + did_you_mean(suggestions, quote="") if suggestions else " "
    return ArchError(
        f"unknown architecture {arch!r}{': ' + reason if reason else ''}{hint}Give one of "
        f"{', '.join(builtins)}, or {', '.join(FORMS)} (e.g. torchvision:efficientnet_b0, "
        "timm:vit_tiny_patch16_224, python:my_models.nets:build)"
    )


def check_zoo_arch(arch: str, builtins: Sequence[str]) -> str:
    """Check that a prefixed ``arch`` names a model that can be built here; return it unchanged."""
    if len(arch) > ARCH_MAX_LENGTH:
        raise ArchError(f"architecture {arch[:40]!r}… is {len(arch)} characters long; the most is "
                        f"{ARCH_MAX_LENGTH}: shorten the module path")
    source, name = split_arch(arch)
    if source == "torchvision":
        if name not in torchvision_names():
            raise unknown_arch(arch, builtins, reason="not a torchvision classification model")
    elif source == "timm":
        import timm

        if not timm.is_model(name.split(".", 1)[0]):
            raise unknown_arch(arch, builtins, reason="not a timm model")
    elif source == "python":
        _python_factory(arch)
    else:
        raise unknown_arch(arch, builtins)
    return arch


def _python_factory(arch: str):
    _, target = split_arch(arch)
    if not PYTHON_TARGET.match(target):
        raise ArchError(f"{arch!r} is not of the form python:package.module:factory")
    module_name, factory_name = target.split(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ArchError(f"{arch!r}: cannot import module {module_name!r} ({exc}); put its folder on "
                        "PYTHONPATH or install it") from exc
    factory = getattr(module, factory_name, None)
    if not callable(factory):
        known = [n for n, v in vars(module).items() if callable(v) and not n.startswith("_")]
        hint = suggest(factory_name, known, n=CLOSE_MATCHES, quote="").rstrip()
        raise ArchError(f"{arch!r}: module {module_name!r} has no function {factory_name!r}"
                        f"{'; ' + hint if hint else ''}")
    return factory


def build_zoo_model(arch: str, num_classes: int, *, img_size: int | None = None
                    ) -> tuple[nn.Module, dict[str, Any]]:
    """A randomly initialised model for a prefixed ``arch`` and the build kwargs to rebuild it.

    img_size: the side of the images it will see. ViT-like models whose position embeddings are
    defined at another size (timm ``img_size``, torchvision ``image_size``) are built for it; the
    returned kwargs are then ``{"img_size": img_size}`` (saved in checkpoints), else ``{}``.
    """
    source, name = split_arch(arch)
    if source == "torchvision":
        return _build_torchvision(name, num_classes, img_size)
    if source == "timm":
        return _build_timm(name, num_classes, img_size)
    factory = _python_factory(arch)
    accepts_size = "img_size" in inspect.signature(factory).parameters
    kwargs = {"img_size": img_size} if accepts_size and img_size else {}
    try:
        model = factory(num_classes=num_classes, **kwargs)
    except TypeError as exc:
        raise ArchError(f"{arch!r}: the factory must accept num_classes=K ({exc})") from exc
    if not isinstance(model, nn.Module):
        raise ArchError(f"{arch!r}: the factory returned a {type(model).__name__}, not a torch nn.Module")
    return model, kwargs


def _build_torchvision(name: str, num_classes: int, img_size: int | None) -> tuple[nn.Module, dict]:
    from torchvision import models as tvm

    extra = dict(_TORCHVISION_EXTRA.get(name, {}))
    built: dict[str, Any] = {}
    if img_size and img_size != DEFAULT_INPUT_SIZE:
        if name.startswith("vit_"):
            extra["image_size"], built["img_size"] = img_size, img_size
        elif name.startswith("maxvit_"):
            extra["input_size"], built["img_size"] = (img_size, img_size), img_size
    return tvm.get_model(name, weights=None, num_classes=num_classes, **extra), built


def _build_timm(name: str, num_classes: int, img_size: int | None) -> tuple[nn.Module, dict]:
    import timm
    from timm.models import get_pretrained_cfg

    cfg = get_pretrained_cfg(name)
    default = (getattr(cfg, "input_size", None) or (3, DEFAULT_INPUT_SIZE, DEFAULT_INPUT_SIZE))[-1]
    if img_size and img_size != default:
        try:
            return timm.create_model(name, pretrained=False, num_classes=num_classes,
                                     img_size=img_size), {"img_size": img_size}
        except TypeError as exc:  # a CNN: any input size works, it takes no img_size
            if "img_size" not in str(exc):
                raise
    return timm.create_model(name, pretrained=False, num_classes=num_classes), {}


def find_head_name(model: nn.Module) -> str:
    """The dotted name of the classification head: timm's ``get_classifier()``, else the last
    ``nn.Linear`` registered (torchvision and most user models), else the last ``nn.Conv2d`` (SqueezeNet)."""
    names = {id(module): name for name, module in model.named_modules()}
    get_classifier = getattr(model, "get_classifier", None)
    if callable(get_classifier):
        head = get_classifier()
        if isinstance(head, nn.Module) and id(head) in names and names[id(head)]:
            return names[id(head)]
    for kind in (nn.Linear, nn.Conv2d):
        found = [name for name, module in model.named_modules() if isinstance(module, kind) and name]
        if found:
            return found[-1]
    raise ArchError(f"{type(model).__name__} has no nn.Linear or nn.Conv2d classification head")


def model_family(model: nn.Module) -> str:
    """One of FAMILIES, from the model's modules (works for any source, the five built-ins included)."""
    modules = list(model.modules())
    class_names = [type(m).__name__.lower() for m in modules]
    if any("swin" in n for n in class_names):
        return "swin"
    has_attention = any(isinstance(m, nn.MultiheadAttention) or "attention" in n
                        for m, n in zip(modules, class_names, strict=True))
    tokens = any(hasattr(m, attr) for m in modules for attr in ("cls_token", "class_token"))
    if tokens or any("visiontransformer" in n for n in class_names):
        return "vit"
    if has_attention:
        return "transformer"
    if any(isinstance(m, nn.Conv2d) for m in modules):
        return "cnn"
    return "other"


def num_prefix_tokens(model: nn.Module) -> int:
    """Tokens before the patch tokens of a ViT (CLS, distillation, registers); 0 for others."""
    count = getattr(model, "num_prefix_tokens", None)
    if isinstance(count, int):
        return count
    return 1 if getattr(model, "class_token", None) is not None else 0


def zoo_cam_layer(model: nn.Module, arch: str) -> nn.Module:
    """The last convolutional stage of a CNN; ArchError for a transformer (no spatial conv maps)."""
    family = model_family(model)
    if family != "cnn":
        raise ArchError(
            f"{arch!r} is a {family} model, not a CNN: it has no last convolutional stage. Grad-CAM "
            "on transformers needs a token layer and a reshape (chosen by trustlab.explain; "
            "--target-layer NAME overrides)"
        )
    explicit = getattr(model, "target_layer", None)
    if isinstance(explicit, nn.Module):
        return explicit
    feature_info = getattr(model, "feature_info", None)  # timm: the stages and their module names
    if isinstance(feature_info, Sequence) and feature_info and isinstance(feature_info[-1], dict):
        return model.get_submodule(feature_info[-1]["module"])
    return _traced_last_spatial_layer(model, arch)


def _traced_last_spatial_layer(model: nn.Module, arch: str) -> nn.Module:
    """The last module to output a spatial map [N, C, h, w] (h*w > 1) that is not a pooling's output."""
    finished: list[nn.Module] = []
    pooled: list[torch.Tensor] = []  # kept alive: a freed tensor's id() is reused by later outputs

    def hook(module, _inputs, output):
        if not isinstance(output, torch.Tensor) or output.ndim != 4 or module is model:
            return
        if isinstance(module, _POOLING):
            pooled.append(output)
        elif output.shape[2] * output.shape[3] > 1 and not any(output is p for p in pooled):
            finished.append(module)

    handles = [m.register_forward_hook(hook) for m in model.modules()]
    was_training = model.training
    try:
        device = next(model.parameters()).device
        model.eval()
        with torch.no_grad():
            model(torch.zeros(1, 3, TRACE_SIZE, TRACE_SIZE, device=device))
    finally:
        model.train(was_training)
        for handle in handles:
            handle.remove()
    if not finished:
        raise ArchError(f"{arch!r} has no spatial layer to explain; give the model a target_layer attribute")
    return finished[-1]

