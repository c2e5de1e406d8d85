"""Grad-CAM family through pytorch-grad-cam, and CAM for global-average-pool networks.

Each method is one short subclass naming its pytorch-grad-cam class; :class:`CamExplainer` holds the
shared step. Two things are added to pytorch-grad-cam: the autograd graph is cut at the target layer
(the backward pass then only runs through the head, which is what keeps Grad-CAM close to the cost
of a forward pass), and every tensor the CAM object keeps between calls is dropped after each call.
"""

from __future__ import annotations

import contextlib
import importlib
from types import SimpleNamespace
from typing import Any, ClassVar

import numpy as np
import torch
from pytorch_grad_cam import (
    EigenCAM,
    GradCAM,
    GradCAMPlusPlus,
    HiResCAM,
    LayerCAM,
    ScoreCAM,
)
from pytorch_grad_cam.base_cam import BaseCAM
from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget
from torch import nn

from trustlab.explain.base import Attribution, Explainer, ExplainError, register
from trustlab.explain.cam_target import CamTarget, TokensToMap, cam_target
from trustlab.explain.layers import classifier_head, find_module

# Score-CAM and Ablation-CAM draw a tqdm bar per call (one per image batch), with no switch to turn
# it off: off a terminal that is thousands of lines in a job's log. Our own progress (per batch of
# items, trustlab/job_progress.py) covers the work, so their module-level ``tqdm`` is made a pass-through.
_QUIET_TQDM = SimpleNamespace(tqdm=lambda iterable, *args, **kwargs: iterable)
for _name in ("score_cam", "ablation_cam", "ablation_cam_multilayer"):
    _module = importlib.import_module(f"pytorch_grad_cam.{_name}")
    if hasattr(_module, "tqdm"):
        _module.tqdm = _QUIET_TQDM


class _ClassActivationMap(BaseCAM):
    """CAM (Zhou et al. 2016): activations weighted by the classifier's weights for the class."""

    def __init__(self, model: nn.Module, target_layers: list[nn.Module], reshape_transform=None) -> None:
        super().__init__(model, target_layers, reshape_transform, uses_gradients=False)
        self.head = classifier_head(model)

    def get_cam_weights(self, input_tensor, target_layer, targets, activations, grads) -> np.ndarray:
        if self.head.in_features != activations.shape[1]:
            raise ExplainError(
                f"cam needs global average pooling straight into one linear layer, but the head takes "
                f"{self.head.in_features} features and the target layer has {activations.shape[1]} "
                "channels; use gradcam for this architecture"
            )
        weights = self.head.weight.detach().cpu().numpy()
        return weights[[target.category for target in targets]]


class CamExplainer(Explainer):
    """Shared step of the CAM family. Subclasses set ``cam_class``.

    Extra constructor argument ``target_layer``: the module to explain, or its dotted name (the
    ``target_layer`` parameter, e.g. ``blocks.11.norm1``); ``input_size``: the image side the model
    takes, for the one traced forward pass that finds the layer's layout; default: found by
    :func:`trustlab.explain.cam_target.cam_target` (CNN stage, Swin stage,
    ViT/DeiT last block's first norm, with the reshape of tokens to a grid). Maps are min-max
    scaled to [0, 1] per image, as pytorch-grad-cam does.
    """

    cam_class: ClassVar[type[BaseCAM]]
    # Cut the autograd graph at the target layer (off for methods that need the input's gradient).
    cut_graph: ClassVar[bool] = True

    def __init__(
        self,
        model: nn.Module,
        *,
        target_layer: nn.Module | str | None = None,
        input_size: int | None = None,
        **kwargs: Any,
    ) -> None:
        named = {"target_layer": target_layer} if isinstance(target_layer, str) and target_layer else {}
        super().__init__(model, **named, **kwargs)  # a name is a parameter (stored, part of the key)
        self._layer = target_layer or None
        if named:
            find_module(model, target_layer)  # a wrong name fails here, listing close matches
        self.target: CamTarget | None = None
        self._cut = None
        self._cam = None
        example = None
        if input_size:  # the traced dummy image: the size the model takes (default: guessed from it)
            example = torch.zeros(1, 3, int(input_size), int(input_size), device=self.device)
        self._setup(example)

    @property
    def target_layer(self) -> nn.Module | None:
        """The module explained (None for FullGrad, which reads every bias layer)."""
        return self.target.layer if self.target is not None else None

    def make_cam(self, target: CamTarget):
        """The pytorch-grad-cam object for ``target`` (methods with extra arguments override)."""
        return self.cam_class(self.model, [target.layer], reshape_transform=target.reshape)

    def _setup(self, example: torch.Tensor | None) -> None:
        """Find the target (tracing ``example``, default a dummy image) and build the CAM object."""
        self.target = cam_target(self.model, self._layer, example=example)
        self.check_target(self.target)
        if self.cut_graph:
            # Fires before pytorch-grad-cam's hooks: they then see a leaf tensor, so backward stops here.
            self._cut = self.target.layer.register_forward_hook(_cut_graph, prepend=True)
        self._cam = self.make_cam(self.target)

    def check_target(self, target: CamTarget) -> None:
        """Raise ExplainError when the method cannot explain this layer (default: any layer works)."""

    def context(self) -> contextlib.AbstractContextManager:
        """Entered around the pytorch-grad-cam call (Shapley-CAM: attention without fused kernels)."""
        return contextlib.nullcontext()

    def cam_targets(self, x: torch.Tensor, targets: list[int]) -> list:
        return [ClassifierOutputTarget(t) for t in targets]

    def attribute(self, x: torch.Tensor, targets: list[int]) -> Attribution:
        if self.target is not None and isinstance(self.target.reshape, TokensToMap):
            self.target.reshape.set_input(x)
        cam_targets = self.cam_targets(x, targets)
        grad_mode = torch.enable_grad() if self._cam.uses_gradients else torch.no_grad()
        try:
            with grad_mode, self.context():
                maps = self._cam(input_tensor=x, targets=cam_targets)
        finally:
            self._drop_state()
        return Attribution(maps=maps, targets=targets)

    def _base(self) -> BaseCAM:
        return getattr(self._cam, "base_cam", self._cam)

    def _drop_state(self) -> None:
        base = self._base()
        base.outputs = None
        # New lists rather than pytorch-grad-cam's clear(), whose in-place detach fails on views
        # (Shapley-CAM keeps its graph); dropping the references frees the tensors all the same.
        base.activations_and_grads.activations = []
        base.activations_and_grads.gradients = []
        self.model.zero_grad(set_to_none=True)

    def close(self) -> None:
        if self._cam is not None:
            self._drop_state()
            self._base().activations_and_grads.release()
            self._cam = None
        if self._cut is not None:
            self._cut.remove()
            self._cut = None


def _cut_graph(_module: nn.Module, _inputs: Any, output: torch.Tensor) -> torch.Tensor | None:
    if torch.is_grad_enabled() and isinstance(output, torch.Tensor):
        return output.detach().requires_grad_(True)
    return None


@register
class GradCamExplainer(CamExplainer):
    """Grad-CAM (Selvaraju et al. 2017): channels weighted by their mean gradient."""

    name = "gradcam"
    cam_class = GradCAM


@register
class GradCamPlusPlusExplainer(CamExplainer):
    """Grad-CAM++ (Chattopadhay et al. 2018): higher-order gradient weights; better for several objects."""

    name = "gradcam++"
    cam_class = GradCAMPlusPlus


@register
class HiResCamExplainer(CamExplainer):
    """HiResCAM (Draelos & Carin 2020): gradients times activations element-wise, then summed."""

    name = "hirescam"
    cam_class = HiResCAM


@register
class ScoreCamExplainer(CamExplainer):
    """Score-CAM (Wang et al. 2020): gradient-free; channels weighted by the score of the masked input."""

    name = "scorecam"
    cam_class = ScoreCAM


@register
class EigenCamExplainer(CamExplainer):
    """Eigen-CAM (Muhammad & Yeasin 2020): first principal component of the activations (class-agnostic)."""

    name = "eigencam"
    cam_class = EigenCAM


@register
class LayerCamExplainer(CamExplainer):
    """LayerCAM (Jiang et al. 2021): positive gradients times activations, per location."""

    name = "layercam"
    cam_class = LayerCAM


@register
class ClassActivationMapExplainer(CamExplainer):
    """CAM (Zhou et al. 2016): activations weighted by the head's weights; global-average-pool nets only."""

    name = "cam"
    cam_class = _ClassActivationMap

    def check_target(self, target: CamTarget) -> None:
        if target.layout == "tokens":
            raise ExplainError(
                "cam needs a spatial map pooled straight into the head; a transformer's tokens reach "
                "it through the class token: use gradcam (or another CAM method) for this model"
            )
