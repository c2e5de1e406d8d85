"""Finding the layers explanations hook into: a module by its dotted name, the classifier head (for
CAM) and the penultimate embedding (for twins) of any model, and the known CNNs' target layers.

The CAM target of any model (token layouts, reshape transforms, ``default_target_layer``) is in
:mod:`trustlab.explain.cam_target`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn

from trustlab.explain.base import ExplainError
from trustlab.wording import did_you_mean, suggest

POOLING = (nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d, nn.AvgPool2d, nn.MaxPool2d, nn.Flatten)
# Side of the dummy image used to trace a model whose input size is unknown.
TRACE_SIZE = 64
# Close matches listed when a layer name is wrong.
CLOSE_MATCHES = 5


class LayerNotFound(ExplainError):
    """A ``--target-layer`` / ``feature_layer`` name that is not a module of the model."""


def find_module(model: nn.Module, name: str) -> nn.Module:
    """The submodule with dotted ``name`` (e.g. ``blocks.11.norm1``); :class:`LayerNotFound` listing
    the closest names when there is none."""
    modules = dict(model.named_modules())
    if name in modules and name:
        return modules[name]
    names = [n for n in modules if n]
    same_last = [n for n in names if n.split(".")[-1] == name.split(".")[-1]][-CLOSE_MATCHES:]
    hint = (suggest(name, names, n=CLOSE_MATCHES, cutoff=0.5, quote="")
            or did_you_mean(same_last, quote="")).rstrip()
    hint = hint or f"its last layers: {', '.join(names[-3:])}"
    raise LayerNotFound(f"{type(model).__name__} has no layer named {name!r}; {hint}")


def module_name(model: nn.Module, module: nn.Module) -> str:
    """The dotted name of ``module`` in ``model`` ("" when it is the model or not inside it)."""
    return next((n for n, m in model.named_modules() if m is module), "")


def input_size(model: nn.Module) -> int:
    """The image side the model expects: timm's ``patch_embed.img_size`` or pretrained config,
    torchvision ViT's ``image_size``, else :data:`TRACE_SIZE` (any size works for a CNN)."""
    patch_embed = getattr(model, "patch_embed", None)
    size = getattr(patch_embed, "img_size", None) or getattr(model, "image_size", None)
    if size is None:
        cfg = getattr(model, "pretrained_cfg", None) or {}
        size = cfg.get("input_size", (3, None, None))[-1] if getattr(model, "patch_embed", None) else None
    if isinstance(size, tuple | list):
        size = size[0]
    return int(size) if size else TRACE_SIZE


@contextmanager
def _eval(model: nn.Module) -> Iterator[None]:
    was_training = model.training
    model.eval()
    try:
        yield
    finally:
        model.train(was_training)


def trace_outputs(model: nn.Module, x: torch.Tensor | None = None) -> list[tuple[str, nn.Module, tuple]]:
    """(name, module, output shape) of every submodule whose output is a tensor, in the order the
    modules finished during one no-grad forward pass of ``x`` (default: one dummy image)."""
    if x is None:
        device = next(model.parameters()).device
        side = input_size(model)
        x = torch.zeros(1, 3, side, side, device=device)
    seen: list[tuple[str, nn.Module, tuple]] = []
    names = {id(m): n for n, m in model.named_modules()}

    def hook(module, _inputs, output):
        if isinstance(output, torch.Tensor) and module is not model:
            seen.append((names.get(id(module), ""), module, tuple(output.shape)))

    handles = [m.register_forward_hook(hook) for m in model.modules()]
    try:
        with torch.no_grad(), _eval(model):
            model(x)
    except (RuntimeError, ValueError, AssertionError) as exc:
        raise ExplainError(
            f"tracing {type(model).__name__} on an image of shape {tuple(x.shape)} failed ({exc}); "
            "give the image size the model takes (input_size)"
        ) from exc
    finally:
        for handle in handles:
            handle.remove()
    return seen


def known_cnn_layer(model: nn.Module) -> nn.Module | None:
    """The CAM target of the architectures trustlab has always known, or None: a ``target_layer``
    attribute; resnet* ``layer4[-1]``; vgg16 / simple_cnn: the activation after the last conv."""
    explicit = getattr(model, "target_layer", None)
    if isinstance(explicit, nn.Module):
        return explicit
    if isinstance(getattr(model, "layer4", None), nn.Sequential):
        return model.layer4[-1]
    features = getattr(model, "features", None)
    if isinstance(features, nn.Sequential) and isinstance(getattr(model, "classifier", None), nn.Module):
        convs = [i for i, m in enumerate(features) if isinstance(m, nn.Conv2d)]
        if convs:
            # The last conv's block up to its activation (vgg16: its ReLU; simple_cnn: conv-BN-ReLU).
            last = convs[-1]
            while last + 1 < len(features) and isinstance(features[last + 1], nn.ReLU | nn.BatchNorm2d):
                last += 1
            return features[last]
    return None


def classifier_head(model: nn.Module) -> nn.Linear:
    """The last ``nn.Linear`` of the model (the class-score layer)."""
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    if not linears:
        raise ExplainError(f"{type(model).__name__} has no nn.Linear classifier head")
    return linears[-1]


def penultimate_features(model: nn.Module, x: torch.Tensor, *, layer: str | None = None) -> torch.Tensor:
    """The penultimate embedding of a batch: float [N, D] (no gradients).

    Default: the input of the classifier head, found with forward hooks as the last
    ``nn.Linear`` to run whose output has the logits' shape (works for timm and torchvision
    CNNs and transformers alike). ``layer``: the output of that dotted module name instead,
    flattened per image. Used for plain nn.Modules and by twins.
    """
    if layer:
        target = find_module(model, layer)
        captured: list[torch.Tensor] = []
        handle = target.register_forward_hook(lambda _m, _i, out: captured.append(_first_tensor(out)))
        try:
            with torch.no_grad():
                model(x)
        finally:
            handle.remove()
        return captured[-1].detach().flatten(1)
    heads: list[tuple[torch.Tensor, torch.Tensor]] = []
    handles = [
        m.register_forward_hook(lambda _m, inputs, out: heads.append((inputs[0].detach(), out.detach())))
        for m in model.modules()
        if isinstance(m, nn.Linear)
    ]
    try:
        with torch.no_grad():
            logits = model(x)
    finally:
        for handle in handles:
            handle.remove()
    logits = _first_tensor(logits)
    matching = [inp for inp, out in heads if out.shape == logits.shape]
    if not matching:
        raise ExplainError(
            f"{type(model).__name__}: no nn.Linear produces the logits, so the penultimate embedding "
            "is unknown; name the layer (twins: feature_layer)"
        )
    return matching[-1].flatten(1)


def _first_tensor(output) -> torch.Tensor:
    if isinstance(output, tuple | list):
        output = output[0]
    return output
