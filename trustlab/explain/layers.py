"""Finding the layers explanations hook into: the default Grad-CAM target layer per architecture,
the classifier head (for CAM) and the penultimate features (for twins)."""

from __future__ import annotations

import torch
from torch import nn

_POOLING = (nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d, nn.AvgPool2d, nn.MaxPool2d, nn.Flatten)
# Size of the dummy image used to trace an unknown architecture.
TRACE_SIZE = 64


def default_target_layer(model: nn.Module) -> nn.Module:
    """The layer whose activations Grad-CAM weights by default.

    resnet*: ``layer4[-1]``; vgg16: the ReLU after the last convolution (``features[-2]``, 14x14 at
    224 px rather than the pooled 7x7); simple_cnn: the ReLU of its last conv block (these agree with
    ``trustlab.models.arch.cam_target_layer``); a model with a ``target_layer`` attribute: that module;
    anything else (e.g. simple_cnn): the last module that outputs a spatial map [N, C, h, w] with
    h*w > 1 and is not a pooling layer, found by tracing one dummy forward pass.
    """
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
    return _traced_last_spatial_layer(model)


def _traced_last_spatial_layer(model: nn.Module) -> nn.Module:
    finished: list[nn.Module] = []

    def hook(module, _inputs, output):
        if (
            isinstance(output, torch.Tensor)
            and output.ndim == 4
            and output.shape[2] * output.shape[3] > 1
            and not isinstance(module, _POOLING)
            and module is not model
        ):
            finished.append(module)

    handles = [m.register_forward_hook(hook) for m in model.modules()]
    try:
        device = next(model.parameters()).device
        with torch.no_grad():
            was_training = model.training
            model.eval()
            model(torch.zeros(1, 3, TRACE_SIZE, TRACE_SIZE, device=device))
            model.train(was_training)
    finally:
        for handle in handles:
            handle.remove()
    if not finished:
        raise ValueError(f"{type(model).__name__} has no spatial layer to explain; pass target_layer")
    return finished[-1]


def classifier_head(model: nn.Module) -> nn.Linear:
    """The last ``nn.Linear`` of the model (the class-score layer)."""
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    if not linears:
        raise ValueError(f"{type(model).__name__} has no nn.Linear classifier head")
    return linears[-1]


def penultimate_features(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The input of the classifier head for a batch: float [N, D] (no gradients).

    Used for plain nn.Modules; a trustlab ``LoadedModel`` provides ``features(x)`` itself.
    """
    head = classifier_head(model)
    captured: list[torch.Tensor] = []
    handle = head.register_forward_pre_hook(lambda _m, inputs: captured.append(inputs[0].detach()))
    try:
        with torch.no_grad():
            model(x)
    finally:
        handle.remove()
    return captured[-1].flatten(1)
