"""Where the CAM family looks in any model: the target layer and the ``reshape_transform`` that turns
its activations into the [N, C, h, w] maps pytorch-grad-cam weights.

Three layouts, told apart by tracing one forward pass:

- ``nchw``: convolutional maps (ResNet, VGG, ConvNeXt, EfficientNet, torchvision's Swin after its
  permute); no transform.
- ``nhwc``: channel-last maps (timm's Swin stages and final norm); transform: a permute.
- ``tokens``: [N, T, D] token sequences (ViT, DeiT, BEiT, EVA...); transform: drop the prefix
  tokens (class, distillation and register tokens) and lay the patch tokens on their grid, with
  pytorch-grad-cam's ``vit_reshape_transform`` (or ``swinT_reshape_transform`` when there is no
  prefix token). The grid is the input's side divided by the patch size of the model's patch
  embedding, so it follows ``--img-size`` rather than assuming 224 px (14x14).

Default target layer for tokens: the first normalisation of the last transformer block (timm
``blocks[-1].norm1``, torchvision ``encoder.layers[-1].ln_1``), as pytorch-grad-cam recommends: the
class token reads the patch tokens there through attention, whereas after the last block only the
class token reaches the head, so the patch tokens' gradients there are zero.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from pytorch_grad_cam.utils.reshape_transforms import swinT_reshape_transform, vit_reshape_transform
from torch import nn

from trustlab.explain.base import ExplainError
from trustlab.explain.layers import POOLING, find_module, known_cnn_layer, module_name, trace_outputs

LAYOUTS = ("nchw", "nhwc", "tokens")


@dataclass
class CamTarget:
    """The layer a CAM method explains.

    layer: the module; name: its dotted name in the model; layout: one of :data:`LAYOUTS`;
    reshape: activations -> [N, C, h, w] for pytorch-grad-cam (None for ``nchw``).
    """

    layer: nn.Module
    name: str
    layout: str
    reshape: Callable[[torch.Tensor], torch.Tensor] | None


class TokensToMap:
    """``reshape_transform`` for token sequences [N, T, D] -> [N, D, h, w].

    The patch grid (h, w) is set per batch from the input size (:meth:`set_input`) and the patch
    size; the prefix tokens are the T - h*w first tokens. Without a patch size (no patchifying
    convolution) the grid is the largest square that fits.
    """

    def __init__(self, patch: tuple[int, int] | None) -> None:
        self.patch = patch
        self.input_hw: tuple[int, int] | None = None

    def set_input(self, x: torch.Tensor) -> None:
        self.input_hw = (int(x.shape[-2]), int(x.shape[-1]))

    def grid(self, tokens: int) -> tuple[int, int]:
        if self.patch is not None and self.input_hw is not None:
            h, w = self.input_hw[0] // self.patch[0], self.input_hw[1] // self.patch[1]
            if 0 < h * w <= tokens:
                return h, w
        side = int(tokens**0.5)
        return side, side

    def __call__(self, tensor: torch.Tensor) -> torch.Tensor:
        if tensor.ndim != 3:
            raise ExplainError(f"expected tokens [N, T, D] at the target layer, got {tuple(tensor.shape)}")
        h, w = self.grid(tensor.shape[1])
        prefix = tensor.shape[1] - h * w
        if prefix == 0:
            return swinT_reshape_transform(tensor, height=h, width=w)
        # vit_reshape_transform drops one (class) token; distillation and register tokens go first.
        return vit_reshape_transform(tensor[:, prefix - 1 :], height=h, width=w)


def nhwc_to_nchw(tensor: torch.Tensor) -> torch.Tensor:
    """``reshape_transform`` for channel-last maps [N, h, w, C] -> [N, C, h, w]."""
    return tensor.permute(0, 3, 1, 2)


def layout_of(shape: tuple) -> str | None:
    """``nchw``, ``nhwc`` or ``tokens`` for an activation shape, None when it has no spatial grid.

    Square images are assumed (trustlab's are): a channel-last map has h == w in dims 1 and 2."""
    if len(shape) == 3 and shape[1] > 1:
        return "tokens"
    if len(shape) == 4:
        if shape[1] == shape[2] != shape[3] and shape[1] * shape[2] > 1:
            return "nhwc"
        if shape[2] * shape[3] > 1:
            return "nchw"
    return None


def patch_size(model: nn.Module) -> tuple[int, int] | None:
    """The stride of the model's patchifying convolution (kernel == stride > 1), if any."""
    for module in model.modules():
        if isinstance(module, nn.Conv2d) and module.kernel_size == module.stride and module.stride[0] > 1:
            return tuple(module.stride)
    return None


def _target(model: nn.Module, layer: nn.Module, name: str, shape: tuple) -> CamTarget:
    layout = layout_of(shape)
    if layout is None:
        raise ExplainError(
            f"layer {name!r} outputs shape {shape}: the CAM family needs a spatial map [N, C, h, w], "
            "[N, h, w, C] or tokens [N, T, D]; choose another --target-layer"
        )
    reshape = {"nchw": None, "nhwc": nhwc_to_nchw, "tokens": TokensToMap(patch_size(model))}[layout]
    return CamTarget(layer=layer, name=name, layout=layout, reshape=reshape)


def default_target_layer(model: nn.Module) -> nn.Module:
    """The layer whose activations the CAM family weights by default.

    resnet*: ``layer4[-1]``; vgg16: the ReLU after the last convolution (``features[-2]``, 14x14 at
    224 px rather than the pooled 7x7); simple_cnn: the ReLU of its last conv block (these agree with
    ``trustlab.models.arch.cam_target_layer``); a model with a ``target_layer`` attribute: that module;
    transformers (ViT, DeiT, Swin) and any other model: see
    :func:`cam_target`.
    """
    known = known_cnn_layer(model)
    return known if known is not None else cam_target(model).layer


def cam_target(
    model: nn.Module, layer: str | nn.Module | None = None, *, example: torch.Tensor | None = None
) -> CamTarget:
    """The CAM target of ``model``: the named (dotted name) or given module, or the default.

    Default: the known CNN layers of :func:`default_target_layer`; else,
    from one traced forward pass of ``example`` (one normalised image [1, 3, H, W]; default a
    dummy of the model's input size): the first norm of the last transformer block when the model
    ends in token blocks, else the last module with a spatial output that is not a pooling layer.
    Raises ExplainError (a wrong name lists close matches).
    """
    if isinstance(layer, str) and layer:
        layer = find_module(model, layer)
    elif not isinstance(layer, nn.Module):
        layer = known_cnn_layer(model)
    trace = trace_outputs(model, example)
    if layer is not None:
        shapes = [shape for _, module, shape in trace if module is layer]
        name = module_name(model, layer)
        if not shapes:
            raise ExplainError(f"layer {name or type(layer).__name__!r} does not run in a forward pass")
        return _target(model, layer, name, shapes[-1])
    spatial = [i for i, (_, m, s) in enumerate(trace) if layout_of(s) in ("nchw", "nhwc")
               and not isinstance(m, POOLING) and s[0] == trace[-1][2][0]]
    tokens = _last_token_block(model, trace)
    if tokens is not None and (not spatial or tokens[0] > spatial[-1]):
        _, name, module = tokens
        return _target(model, module, name, next(s for _, m, s in trace if m is module))
    if not spatial:
        raise ExplainError(
            f"{type(model).__name__} has no spatial layer or token blocks to explain; pass --target-layer"
        )
    name, module, shape = trace[spatial[-1]]
    return _target(model, module, name, shape)


def _last_token_block(model: nn.Module, trace) -> tuple[int, str, nn.Module] | None:
    """(finish position of the last block, name, module) of the first norm in the last transformer
    block, or of the block's input (the previous block) when it has no norm; None when the model has
    no token blocks (a Sequential or ModuleList of at least two modules that all output [N, T, D])."""
    order = {id(m): i for i, (_, m, _) in enumerate(trace)}
    shapes = {id(m): s for _, m, s in trace}
    batch = trace[-1][2][0]
    best: tuple[int, str, nn.ModuleList | nn.Sequential] | None = None
    for name, container in model.named_modules():
        if not isinstance(container, nn.Sequential | nn.ModuleList) or len(container) < 2:
            continue
        outs = [shapes.get(id(child)) for child in container]
        if all(s is not None and len(s) == 3 and s[0] == batch and s[1] > 1 for s in outs):
            finished = order[id(container[-1])]
            if best is None or finished > best[0]:
                best = (finished, name, container)
    if best is None:
        return None
    finished, name, blocks = best
    keys = list(blocks._modules)  # "11" in timm's blocks, "encoder_layer_11" in torchvision's
    for sub, module in blocks[-1].named_modules():
        if id(module) in shapes and "norm" in type(module).__name__.lower() and len(shapes[id(module)]) == 3:
            return finished, f"{name}.{keys[-1]}.{sub}", module
    return finished, f"{name}.{keys[-2]}", blocks[-2]
