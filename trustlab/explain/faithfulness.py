"""Faithfulness of saliency maps: deletion / insertion AUC, ROAD, pointing game, mass in evidence.

Functions on tensors and arrays; each takes the model, the normalised batch x [N, 3, H, W], the maps
[N, H, W] (larger = more evidence) and the explained classes. None modifies its inputs.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from pytorch_grad_cam.metrics.road import ROADCombined
from pytorch_grad_cam.utils.model_targets import ClassifierOutputSoftmaxTarget
from scipy.ndimage import binary_dilation
from torch import nn
from torchvision.transforms.functional import gaussian_blur

# Deletion/insertion: the share of pixels removed or added grows in this many equal steps.
CURVE_STEPS = 16
# Insertion starts from a blurred copy (Petsiuk et al. 2018, RISE); sigma as a fraction of the side.
INSERTION_BLUR_FRACTION = 1 / 8
# ROAD percentiles of pixels imputed (pytorch-grad-cam default is 10..90 in tens; four keep it cheap).
ROAD_PERCENTILES = (20, 40, 60, 80)
# Pointing game tolerance as a share of the image side: 15 px at 224 px (Zhang et al. 2016).
POINTING_TOLERANCE_FRACTION = 15 / 224
# Ties in a map (flat regions, superpixels) are broken in a seeded random order, not raster order.
TIE_BREAK_SEED = 0


def _ranks(maps: np.ndarray) -> np.ndarray:
    """int [N, H*W]: each pixel's position when sorted by decreasing saliency (0 = most salient)."""
    n, hw = maps.shape[0], maps.shape[1] * maps.shape[2]
    noise = np.random.default_rng(TIE_BREAK_SEED).random(hw)
    ranks = np.empty((n, hw), dtype=np.int64)
    for i in range(n):
        order = np.lexsort((noise, -maps[i].reshape(-1)))
        ranks[i, order] = np.arange(hw)
    return ranks


@torch.no_grad()
def deletion_insertion_auc(
    model: nn.Module,
    x: torch.Tensor,
    maps: np.ndarray,
    targets: Sequence[int],
    *,
    steps: int = CURVE_STEPS,
    batch_size: int = 64,
) -> tuple[np.ndarray, np.ndarray]:
    """Area under the target probability as the most salient pixels are removed / added.

    Deletion replaces pixels with 0 in normalised space (the dataset's mean colour); insertion adds
    the original pixels onto a blurred copy. x-axis: share of pixels, 0..1 in ``steps`` steps.

    Returns
    -------
    deletion float [N] (lower = more faithful), insertion float [N] (higher = more faithful).
    """
    n, _, h, w = x.shape
    device = x.device
    ranks = torch.from_numpy(_ranks(np.asarray(maps, dtype=np.float32))).to(device).view(n, 1, h, w)
    thresholds = torch.linspace(0, h * w, steps + 1, device=device).round().view(-1, 1, 1, 1)
    sigma = max(h, w) * INSERTION_BLUR_FRACTION
    blurred = gaussian_blur(x, [2 * int(3 * sigma) + 1] * 2, [sigma, sigma])
    curves = {"deletion": np.zeros((n, steps + 1)), "insertion": np.zeros((n, steps + 1))}
    for i in range(n):
        selected = (ranks[i : i + 1] < thresholds).to(x.dtype)  # [steps+1, 1, H, W]
        images = {
            "deletion": x[i : i + 1] * (1 - selected),
            "insertion": blurred[i : i + 1] * (1 - selected) + x[i : i + 1] * selected,
        }
        for kind, batch in images.items():
            probs = torch.cat(
                [
                    torch.softmax(model(batch[s : s + batch_size]), dim=1)
                    for s in range(0, batch.shape[0], batch_size)
                ]
            )
            curves[kind][i] = probs[:, int(targets[i])].double().cpu().numpy()
    dx = 1.0 / steps
    auc = {k: ((c[:, 1:] + c[:, :-1]) / 2).sum(axis=1) * dx for k, c in curves.items()}
    return auc["deletion"], auc["insertion"]


def road_score(
    model: nn.Module,
    x: torch.Tensor,
    maps: np.ndarray,
    targets: Sequence[int],
    *,
    percentiles: Sequence[int] = ROAD_PERCENTILES,
    seed: int = 0,
) -> np.ndarray:
    """ROAD (Rong et al. 2022) through pytorch-grad-cam: (LeRF - MoRF) / 2 of the target probability
    after noisy linear imputation, averaged over ``percentiles``. float [N]; higher = more faithful.
    The imputation noise is drawn from a forked, seeded torch generator (reproducible)."""
    metric = ROADCombined(percentiles=list(percentiles))
    cams = np.ascontiguousarray(maps, dtype=np.float32)
    cam_targets = [ClassifierOutputSoftmaxTarget(int(t)) for t in targets]
    devices = [x.device] if x.device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        return np.asarray(metric(x.detach(), cams, cam_targets, model), dtype=np.float64).reshape(-1)


def pointing_game(maps: np.ndarray, evidence: np.ndarray, *, tolerance: int = 0) -> np.ndarray:
    """bool [N]: whether each map's maximum falls inside its evidence mask (bool [N, H, W]) or within
    ``tolerance`` pixels of it (Zhang et al. 2016 use 15 px at 224 px)."""
    evidence = np.asarray(evidence, dtype=bool)
    if tolerance > 0:
        radius = np.arange(-tolerance, tolerance + 1)
        disk = (radius[:, None] ** 2 + radius[None, :] ** 2) <= tolerance**2
        evidence = np.stack([binary_dilation(mask, structure=disk) for mask in evidence])
    flat = np.asarray(maps).reshape(len(maps), -1)
    peak = flat.argmax(axis=1)
    return evidence.reshape(len(maps), -1)[np.arange(len(maps)), peak]


def mass_inside(maps: np.ndarray, evidence: np.ndarray) -> np.ndarray:
    """float [N]: share of positive saliency inside the evidence mask (0..1; NaN for an all-zero map)."""
    positive = np.clip(np.asarray(maps, dtype=np.float64), 0, None).reshape(len(maps), -1)
    inside = (positive * np.asarray(evidence).reshape(len(maps), -1)).sum(axis=1)
    total = positive.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, inside / np.where(total > 0, total, 1), np.nan)


def faithfulness_scores(
    model: nn.Module,
    x: torch.Tensor,
    maps: np.ndarray,
    targets: Sequence[int],
    *,
    evidence: Sequence[np.ndarray | None] | None = None,
    road: bool = True,
) -> list[dict[str, Any]]:
    """Every metric for each image, as JSON-ready dicts (Explanation.faithfulness).

    evidence: per image a bool [H, W] ground-truth mask at the map's resolution, or None.
    Keys: deletion_auc, insertion_auc, road (if ``road``), pointing_game (with the 15-px-at-224
    tolerance) and mass_inside (where a mask is given).
    """
    deletion, insertion = deletion_insertion_auc(model, x, maps, targets)
    roads = road_score(model, x, maps, targets) if road else None
    out: list[dict[str, Any]] = []
    for i in range(len(targets)):
        scores: dict[str, Any] = {"deletion_auc": float(deletion[i]), "insertion_auc": float(insertion[i])}
        if roads is not None:
            scores["road"] = float(roads[i])
        mask = evidence[i] if evidence is not None else None
        if mask is not None and np.asarray(mask).any():
            tolerance = round(max(mask.shape) * POINTING_TOLERANCE_FRACTION)
            scores["pointing_game"] = bool(pointing_game(maps[i : i + 1], mask[None], tolerance=tolerance)[0])
            share = float(mass_inside(maps[i : i + 1], mask[None])[0])
            scores["mass_inside"] = None if np.isnan(share) else share
        out.append(scores)
    return out
