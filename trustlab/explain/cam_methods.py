"""The rest of pytorch-grad-cam's CAM methods, each through its own class: Ablation-CAM, XGrad-CAM,
FullGrad, Eigen-Grad-CAM, Shapley-CAM, Finer-CAM and KPCA-CAM.

Each is a short :class:`~trustlab.explain.gradcam.CamExplainer` subclass; where pytorch-grad-cam
needs more than a class name (Ablation-CAM's ablation layer for token / channel-last layouts,
FullGrad's bias layers, Finer-CAM's comparison targets, Shapley-CAM's reshape of activations) the
subclass overrides one step, and a model a method cannot explain gets an error naming why.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from pytorch_grad_cam import (
    KPCA_CAM,
    AblationCAM,
    EigenGradCAM,
    FinerCAM,
    FullGrad,
    GradCAM,
    ShapleyCAM,
    XGradCAM,
)
from pytorch_grad_cam.ablation_layer import AblationLayer, AblationLayerVit
from pytorch_grad_cam.utils.model_targets import FinerWeightedTarget
from torch import nn
from torch.nn.attention import SDPBackend, sdpa_kernel

from trustlab.explain.base import ExplainError, register
from trustlab.explain.cam_target import CamTarget, layout_of
from trustlab.explain.gradcam import CamExplainer
from trustlab.explain.layers import trace_outputs

# Channels ablated per forward pass (pytorch-grad-cam's default); speed only.
ABLATION_BATCH = 32
# Layers whose bias FullGrad reads as a spatial map (pytorch-grad-cam's choice).
_FULLGRAD_BIAS_LAYERS = (nn.Conv2d, nn.BatchNorm2d)


@register
class AblationCamExplainer(CamExplainer):
    """Ablation-CAM (Desai & Ramaswamy 2020): channel weight = relative score drop when it is
    ablated. Token and channel-last layers use pytorch-grad-cam's ``AblationLayerVit``."""

    name = "ablationcam"
    cam_class = AblationCAM

    def __init__(self, model: nn.Module, *, batch_size: int = ABLATION_BATCH, **kwargs: Any) -> None:
        self.batch_size = int(batch_size)  # before super().__init__, which builds the CAM object
        super().__init__(model, **kwargs)

    def make_cam(self, target: CamTarget):
        ablation = AblationLayer() if target.layout == "nchw" else AblationLayerVit()
        return AblationCAM(
            self.model,
            [target.layer],
            reshape_transform=target.reshape,
            ablation_layer=ablation,
            batch_size=self.batch_size,
        )


@register
class XGradCamExplainer(CamExplainer):
    """XGrad-CAM (Fu et al. 2020): gradients weighted by normalised activations."""

    name = "xgradcam"
    cam_class = XGradCAM


@register
class EigenGradCamExplainer(CamExplainer):
    """Eigen-Grad-CAM: first principal component of activations times gradients (class-specific)."""

    name = "eigengradcam"
    cam_class = EigenGradCAM


@register
class KpcaCamExplainer(CamExplainer):
    """KPCA-CAM (Karmani et al. 2024): first kernel principal component of the activations."""

    name = "kpcacam"
    cam_class = KPCA_CAM

    def make_cam(self, target: CamTarget):
        return KPCA_CAM(
            self.model, [target.layer], reshape_transform=target.reshape, kernel=str(self.params["kernel"])
        )


class _ShapleyCam(ShapleyCAM):
    """ShapleyCAM whose cam image also reshapes the activations (pytorch-grad-cam 1.5 reshapes only
    inside the weights, so tokens [N, T, D] failed as "Invalid activation shape")."""

    def get_cam_image(self, input_tensor, target_layer, targets, activations, grads, eigen_smooth):
        weights = self.get_cam_weights(input_tensor, target_layer, targets, activations, grads)
        reshape = self.activations_and_grads.reshape_transform
        maps = (reshape(activations) if reshape is not None else activations).detach().cpu().numpy()
        return (weights[:, :, None, None] * maps).sum(axis=1)


@register
class ShapleyCamExplainer(CamExplainer):
    """Shapley-CAM (Cai 2025): gradient minus half the Hessian-vector product, per channel. Needs the
    whole graph (second-order terms), so the graph is not cut at the target layer."""

    name = "shapleycam"
    cam_class = _ShapleyCam
    cut_graph = False

    def context(self):
        # The fused attention kernels have no second derivative (ViT on CPU failed with
        # "derivative for aten::_scaled_dot_product_flash_attention_for_cpu_backward is not implemented").
        return sdpa_kernel(SDPBackend.MATH)


@register
class FinerCamExplainer(CamExplainer):
    """Finer-CAM (Zhang et al. 2025): Grad-CAM of the target's logit minus ``alpha`` times those of
    the ``comparisons`` classes whose logits are closest to it (weighted by their probability)."""

    name = "finercam"
    cam_class = FinerCAM

    def make_cam(self, target: CamTarget):
        return FinerCAM(self.model, [target.layer], reshape_transform=target.reshape, base_method=GradCAM)

    def cam_targets(self, x: torch.Tensor, targets: list[int]) -> list:
        with torch.no_grad():
            logits = self.model(x).float().cpu().numpy()
        k = min(int(self.params["comparisons"]), logits.shape[1] - 1)
        out = []
        for row, target in zip(logits, targets, strict=True):
            gap = np.abs(row - row[target])
            gap[target] = np.inf
            similar = [int(c) for c in np.argsort(gap, kind="stable")[:k]]
            out.append(FinerWeightedTarget(target, similar, float(self.params["alpha"])))
        return out


@register
class FullGradExplainer(CamExplainer):
    """FullGrad (Srinivas & Fleuret 2019): input gradient times input plus, for every convolution
    and batch norm, its bias times its gradient. Takes no target layer (it reads them all), and
    explains convolutional networks only: pytorch-grad-cam reads biases of Conv2d/BatchNorm2d, so a
    model with other biased layers before its pooling (LayerNorm, token-wise Linear: ViT, Swin,
    ConvNeXt) is refused."""

    name = "fullgrad"
    cam_class = FullGrad
    cut_graph = False

    def _setup(self, example: torch.Tensor | None) -> None:
        # Biased layers acting on a spatial map or on tokens, other than Conv2d/BatchNorm2d.
        missed = [
            name
            for name, module, shape in trace_outputs(self.model, example)
            if isinstance(getattr(module, "bias", None), torch.Tensor)
            and not isinstance(module, _FULLGRAD_BIAS_LAYERS)
            and layout_of(shape) is not None
        ]
        if missed:
            shown = ", ".join(missed[:3]) + (f" and {len(missed) - 3} more" if len(missed) > 3 else "")
            raise ExplainError(
                f"fullgrad needs the bias of every layer as a spatial map, but pytorch-grad-cam's "
                f"FullGrad reads only Conv2d/BatchNorm2d biases and {type(self.model).__name__} has "
                f"other biased layers ({shown}): its map would leave them out. It explains CNNs "
                "(ResNet, VGG, simple_cnn); use gradcam or another CAM method here"
            )
        if not any(isinstance(m, _FULLGRAD_BIAS_LAYERS) for m in self.model.modules()):
            raise ExplainError(f"fullgrad: {type(self.model).__name__} has no Conv2d/BatchNorm2d bias")
        self._cam = FullGrad(self.model, [])
