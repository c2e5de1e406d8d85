"""LIME (Ribeiro et al. 2016) for images, batched on the model's device.

Same estimator as the reference ``lime`` package (``lime_image.LimeImageExplainer``): superpixels,
random on/off masks over them (the first mask keeps everything), the cosine distance of each mask
to the all-on mask, kernel weights ``sqrt(exp(-d^2 / width^2))``, and a weighted ridge regression
(alpha 1) of the class probabilities on the masks. The difference is speed and reproducibility:
the perturbed images are built as tensors on the model's device, a batch at a time
(``x * m + hide * (1 - m)``), and the masks come from a NumPy ``Generator`` seeded by ``seed``,
so one seed gives one result.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from skimage.segmentation import quickshift, slic
from sklearn.linear_model import Ridge
from torch import nn
from torchvision.transforms.functional import gaussian_blur

from trustlab.explain.base import Attribution, Explainer, ExplainError, register
from trustlab.explanation_methods import METHODS

# lime_image's defaults: kernel width on cosine distance (the catalogue's default), ridge penalty of
# the surrogate.
KERNEL_WIDTH = float(METHODS["lime"].params["kernel_width"])
RIDGE_ALPHA = 1.0
# Blur hide colour: Gaussian sigma as a fraction of the image side (strong enough to erase shapes).
BLUR_SIGMA_FRACTION = 1 / 16
SEGMENTATIONS = ("slic", "quickshift")


@dataclass(frozen=True)
class Segmentation:
    """How an image is cut into superpixels: "slic" (n_segments, compactness, sigma) or "quickshift"
    (kernel_size, max_dist, ratio, seeded by ``seed``; lime's default segmentation)."""

    method: str = "slic"
    n_segments: int = 50
    compactness: float = 10.0
    sigma: float = 1.0
    kernel_size: float = 4
    max_dist: float = 200
    ratio: float = 0.2
    seed: int = 0

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> Segmentation:
        """From an explainer's parameters (``segmentation`` names the method)."""
        return cls(method=params["segmentation"], n_segments=int(params["n_segments"]),
                   compactness=float(params["compactness"]), sigma=float(params["sigma"]),
                   kernel_size=params["kernel_size"], max_dist=params["max_dist"], ratio=params["ratio"],
                   seed=int(params["seed"]))


def segment_image(pixels: np.ndarray, segmentation: Segmentation = Segmentation()) -> np.ndarray:
    """Superpixels of one image: ``pixels`` float [H, W, 3] in [0, 1] -> int32 [H, W] labels 0..K-1."""
    method = segmentation.method
    if method == "slic":
        segments = slic(
            pixels,
            n_segments=segmentation.n_segments,
            compactness=segmentation.compactness,
            sigma=segmentation.sigma,
            start_label=0,
            channel_axis=-1,
        )
    elif method == "quickshift":
        segments = quickshift(
            pixels, kernel_size=segmentation.kernel_size, max_dist=segmentation.max_dist,
            ratio=segmentation.ratio, rng=segmentation.seed, channel_axis=-1
        )
    else:
        raise ExplainError(f"lime: segmentation {method!r} is not one of {SEGMENTATIONS}")
    # Relabel to 0..K-1 so labels index the mask columns directly.
    _, dense = np.unique(segments, return_inverse=True)
    return dense.reshape(segments.shape).astype(np.int32)


def sample_masks(n_features: int, num_samples: int, seed: int) -> np.ndarray:
    """bool [num_samples, n_features] on/off masks; row 0 keeps every superpixel (as lime does)."""
    rng = np.random.default_rng(seed)
    masks = rng.integers(0, 2, size=(num_samples, n_features)).astype(bool)
    masks[0] = True
    return masks


def kernel_weights(masks: np.ndarray, kernel_width: float = KERNEL_WIDTH) -> np.ndarray:
    """float64 [S] weights from the cosine distance of each mask to the all-on mask.

    cos(m, 1) = |m|_1 / (sqrt(|m|_1) sqrt(n)) = sqrt(|m|_1 / n); an all-off mask has distance 1
    (as sklearn's cosine distance gives for a zero vector).
    """
    on = masks.sum(axis=1) / masks.shape[1]
    distances = 1.0 - np.sqrt(on)
    return np.sqrt(np.exp(-(distances**2) / kernel_width**2))


def fit_surrogate(
    masks: np.ndarray, probs: np.ndarray, weights: np.ndarray, *, alpha: float = RIDGE_ALPHA
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Weighted ridge of probabilities on masks.

    Parameters
    ----------
    masks: bool [S, K]; probs: float [S, L] (one column per explained label); weights: float [S].

    Returns
    -------
    coefficients float [L, K], intercepts float [L], weighted R^2 float [L].
    """
    ridge = Ridge(alpha=alpha, fit_intercept=True)
    features = masks.astype(np.float64)
    ridge.fit(features, probs, sample_weight=weights)
    coef = np.atleast_2d(ridge.coef_)
    intercept = np.atleast_1d(ridge.intercept_)
    predicted = np.atleast_2d(ridge.predict(features).T).T
    residual = (weights[:, None] * (probs - predicted) ** 2).sum(axis=0)
    mean = (weights[:, None] * probs).sum(axis=0) / weights.sum()
    total = (weights[:, None] * (probs - mean) ** 2).sum(axis=0)
    r2 = 1.0 - residual / np.maximum(total, 1e-12)
    return coef, intercept, r2


@register
class LimeExplainer(Explainer):
    """LIME on superpixels.

    Params: num_samples (perturbed images per image), segmentation ("slic" | "quickshift"),
    n_segments / compactness / sigma (slic), kernel_size / max_dist / ratio (quickshift),
    hide_color (a pixel value in [0, 1], e.g. 0 for black, or "mean" for each superpixel's mean
    colour as lime's default, or "blur"), top_labels (surrogates fitted for the K most probable
    classes besides the target), num_features (superpixels listed as positive / negative regions),
    kernel_width, seed. ``batch_size`` (perturbed images per forward pass) changes speed only.

    The map of an image is its target's surrogate coefficient painted over each superpixel
    (positive: evidence for the class). extras hold ``segments`` int32 [H, W], ``masks`` bool
    [num_samples, K], ``labels``, ``coefficients`` [L, K], ``intercepts``, ``r2``, ``positive`` and
    ``negative`` superpixel ids, which reproduce the explanation exactly.
    """

    name = "lime"

    def __init__(self, model: nn.Module, *, batch_size: int = 64, **kwargs: Any) -> None:
        super().__init__(model, **kwargs)
        self.batch_size = int(batch_size)
        if int(self.params["num_samples"]) < 2:
            raise ExplainError("lime: num_samples must be at least 2")

    def attribute(self, x: torch.Tensor, targets: list[int]) -> Attribution:
        maps, extras = [], []
        pixels = self.to_pixels(x).permute(0, 2, 3, 1).cpu().numpy().astype(np.float64)
        for i, target in enumerate(targets):
            segments = segment_image(pixels[i], Segmentation.from_params(self.params))
            extra = self.explain_segments(x[i], target, segments)
            maps.append(np.asarray(extra["coefficients"][0], dtype=np.float32)[segments])
            extras.append(extra)
        return Attribution(maps=np.stack(maps), targets=targets, extras=extras)

    def explain_segments(
        self, image: torch.Tensor, target: int, segments: np.ndarray, masks: np.ndarray | None = None
    ) -> dict[str, Any]:
        """LIME for one normalised image [3, H, W] and a given segmentation int [H, W] (0..K-1).

        masks: bool [S, K] perturbations to use instead of sampling them from the seed (to reproduce
        a stored explanation from its .npz). Returns the extras dict described in the class
        docstring; coefficients row 0 is ``target``.
        """
        p = self.params
        n_features = int(segments.max()) + 1
        if masks is None:
            masks = sample_masks(n_features, int(p["num_samples"]), int(p["seed"]))
        probs = self._perturbed_probabilities(image, segments, masks)
        order = np.argsort(-probs[0], kind="stable")
        labels = [target] + [int(c) for c in order[: int(p["top_labels"])] if c != target]
        weights = kernel_weights(masks, float(p["kernel_width"]))
        coef, intercept, r2 = fit_surrogate(masks, probs[:, labels], weights)
        k = int(p["num_features"])
        ranked = np.argsort(-coef[0], kind="stable")
        return {
            "segments": segments,
            "masks": masks,
            "labels": labels,
            "coefficients": coef.tolist(),
            "intercepts": intercept.tolist(),
            "r2": r2.tolist(),
            "positive": [int(s) for s in ranked[:k] if coef[0, s] > 0],
            "negative": [int(s) for s in ranked[::-1][:k] if coef[0, s] < 0],
        }

    @torch.no_grad()
    def _perturbed_probabilities(
        self, image: torch.Tensor, segments: np.ndarray, masks: np.ndarray
    ) -> np.ndarray:
        """float64 [S, C]: class probabilities of every perturbed image, built in device batches."""
        seg = torch.from_numpy(segments.astype(np.int64)).to(self.device)
        hide = self._hide_image(image, seg)
        masks_t = torch.from_numpy(masks).to(self.device)
        out = []
        for start in range(0, masks.shape[0], self.batch_size):
            keep = masks_t[start : start + self.batch_size][:, seg].unsqueeze(1).to(image.dtype)  # [B,1,H,W]
            batch = image.unsqueeze(0) * keep + hide.unsqueeze(0) * (1 - keep)
            # Convolutions run about 2x faster on CPU with channels-last input (measured here).
            batch = batch.contiguous(memory_format=torch.channels_last)
            out.append(torch.softmax(self.model(batch), dim=1).double().cpu())
        return torch.cat(out).numpy()

    def _hide_image(self, image: torch.Tensor, seg: torch.Tensor) -> torch.Tensor:
        """[3, H, W] normalised values shown where a superpixel is switched off."""
        hide_color = self.params["hide_color"]
        if hide_color == "mean":
            flat = seg.flatten()
            n = int(flat.max()) + 1
            sums = torch.zeros(3, n, device=image.device).index_add_(1, flat, image.reshape(3, -1))
            counts = torch.bincount(flat, minlength=n).clamp(min=1).to(image.dtype)
            return (sums / counts)[:, seg]
        if hide_color == "blur":
            sigma = max(image.shape[1:]) * BLUR_SIGMA_FRACTION
            size = 2 * int(3 * sigma) + 1
            return gaussian_blur(image.unsqueeze(0), [size, size], [sigma, sigma])[0]
        try:
            value = float(hide_color)
        except (TypeError, ValueError):
            raise ExplainError(
                f"lime: hide_color {hide_color!r} must be a pixel value in [0, 1], 'mean' or 'blur'"
            ) from None
        pixel = torch.full((1, 3, *image.shape[1:]), value, device=image.device)
        return self.from_pixels(pixel)[0]
