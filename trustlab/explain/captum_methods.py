"""Attribution methods through captum: Integrated Gradients, Occlusion, KernelSHAP (on the same
superpixels as LIME) and Guided Backprop. Each subclass overrides the one step that calls captum.

Gradient methods explain the logit of the target; perturbation methods (occlusion, KernelSHAP)
explain its softmax probability, as LIME does, so their maps read as "probability lost when hidden".
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import torch
from captum.attr import GuidedBackprop, IntegratedGradients, KernelShap, Occlusion
from torch import nn

from trustlab.explain.base import Attribution, Explainer, register
from trustlab.explain.lime import Segmentation, segment_image

# Occlusion window and stride as fractions of the image side (8x8 windows, stride 4 on 64 px).
OCCLUSION_WINDOW_FRACTION = 1 / 8
OCCLUSION_STRIDE_FRACTION = 1 / 16


class _SoftmaxModel(nn.Module):
    """Probabilities instead of logits, for the perturbation methods."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.model(x), dim=1)


class CaptumExplainer(Explainer):
    """Shared helpers; ``batch_size`` (model evaluations per forward pass) changes speed only."""

    def __init__(self, model: nn.Module, *, batch_size: int = 64, **kwargs: Any) -> None:
        super().__init__(model, **kwargs)
        self.batch_size = int(batch_size)

    def baseline(self, x: torch.Tensor) -> torch.Tensor:
        """The reference image: a constant pixel value (``baseline`` param, 0 = black), normalised."""
        pixel = torch.full_like(x, float(self.params["baseline"]))
        return self.from_pixels(pixel)

    @staticmethod
    def channel_sum(attr: torch.Tensor, *, absolute: bool = False) -> np.ndarray:
        attr = attr.detach()
        return (attr.abs() if absolute else attr).sum(dim=1).cpu().numpy()


@register
class IntegratedGradientsExplainer(CaptumExplainer):
    """Integrated Gradients from a constant ``baseline`` image in ``n_steps`` steps; map = sum
    over channels (signed)."""

    name = "integrated_gradients"

    def attribute(self, x: torch.Tensor, targets: list[int]) -> Attribution:
        ig = IntegratedGradients(self.model)
        with torch.enable_grad():
            attr = ig.attribute(
                x,
                baselines=self.baseline(x),
                target=targets,
                n_steps=int(self.params["n_steps"]),
                internal_batch_size=self.batch_size,
            )
        self.model.zero_grad(set_to_none=True)
        return Attribution(maps=self.channel_sum(attr), targets=targets)


@register
class OcclusionExplainer(CaptumExplainer):
    """Occlusion with square windows (``window`` / ``stride`` in pixels; 0 = 1/8 and 1/16 of the
    image side) filled with ``baseline``; map = probability drop summed over channels."""

    name = "occlusion"

    def attribute(self, x: torch.Tensor, targets: list[int]) -> Attribution:
        side = max(x.shape[2:])
        window = int(self.params["window"]) or max(2, round(side * OCCLUSION_WINDOW_FRACTION))
        stride = int(self.params["stride"]) or max(1, round(side * OCCLUSION_STRIDE_FRACTION))
        occlusion = Occlusion(_SoftmaxModel(self.model))
        with torch.no_grad():
            attr = occlusion.attribute(
                x,
                sliding_window_shapes=(3, window, window),
                strides=(3, stride, stride),
                baselines=self.baseline(x),
                target=targets,
                perturbations_per_eval=max(1, self.batch_size // len(targets)),
            )
        return Attribution(maps=self.channel_sum(attr), targets=targets)


@register
class KernelShapExplainer(CaptumExplainer):
    """KernelSHAP over slic superpixels (the same segmentation parameters as LIME); ``n_samples``
    coalitions, seeded by ``seed``; map = each superpixel's Shapley value."""

    name = "kernel_shap"

    def attribute(self, x: torch.Tensor, targets: list[int]) -> Attribution:
        p = self.params
        shap = KernelShap(_SoftmaxModel(self.model))
        pixels = self.to_pixels(x).permute(0, 2, 3, 1).cpu().numpy().astype(np.float64)
        baselines = self.baseline(x)
        maps, extras = [], []
        for i, target in enumerate(targets):
            segments = segment_image(pixels[i], Segmentation(
                method="slic", n_segments=int(p["n_segments"]), compactness=float(p["compactness"]),
                sigma=float(p["sigma"])))
            mask = torch.from_numpy(segments.astype(np.int64)).to(self.device)
            mask = mask[None, None].expand(1, 3, -1, -1)
            # captum samples coalitions with torch's global generator: fork it so the seed is ours.
            devices = [self.device] if self.device.type == "cuda" else []
            with torch.random.fork_rng(devices=devices), torch.no_grad():
                torch.manual_seed(int(p["seed"]))
                attr = shap.attribute(
                    x[i : i + 1],
                    baselines=baselines[i : i + 1],
                    target=target,
                    feature_mask=mask,
                    n_samples=int(p["n_samples"]),
                    perturbations_per_eval=self.batch_size,
                )
            maps.append(attr[0, 0].cpu().numpy())  # every channel carries the superpixel's value
            extras.append({"segments": segments})
        return Attribution(maps=np.stack(maps), targets=targets, extras=extras)


@register
class GuidedBackpropExplainer(CaptumExplainer):
    """Guided Backpropagation; map = absolute gradient summed over channels."""

    name = "guided_backprop"

    def attribute(self, x: torch.Tensor, targets: list[int]) -> Attribution:
        gbp = GuidedBackprop(self.model)
        # captum warns that it sets requires_grad on the input (our private copy) and hooks ReLUs
        # for the duration of the call: both expected here.
        with torch.enable_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            attr = gbp.attribute(x, target=targets)
        self.model.zero_grad(set_to_none=True)
        return Attribution(maps=self.channel_sum(attr, absolute=True), targets=targets)
