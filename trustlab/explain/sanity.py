"""Model-parameter randomisation test (Adebayo et al. 2018, "Sanity checks for saliency maps").

A method whose maps barely change when the model's weights are replaced by random ones explains
the image, not the model. Cascading mode re-initialises the layers from the output downwards, one
unit more at each step; full mode re-initialises every layer at once. For each step the report gives
the mean Spearman rank correlation between the trained and the randomised model's maps (of the
signed maps and of their absolute values). High correlation after randomisation = a warning sign.
"""

from __future__ import annotations

import copy
import warnings
from typing import Any

import numpy as np
import pandas as pd
import torch
from scipy.stats import spearmanr
from torch import nn

from trustlab.config import Settings
from trustlab.db.engine import unit_of_work
from trustlab.db.queries.items import list_items
from trustlab.db.queries.models import get_model_version
from trustlab.explain.base import ExplainError, get_explainer
from trustlab.explain.precompute import ExplainOptions, make_explainer
from trustlab.models.checkpoint import load_model

MODES = ("cascading", "full")
DEFAULT_ITEMS = 16


class _OwnParameters:
    """The parameters a model holds itself rather than in a child (a ViT's ``cls_token`` and
    ``pos_embed``), as one unit for :func:`_reinitialise`."""

    def __init__(self, model: nn.Module) -> None:
        self.model = model

    def named_parameters(self):
        return self.model.named_parameters(recurse=False)


def randomisation_units(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """The units randomised in cascade, from the output down: top-level children, with Sequential
    (and ModuleList) children expanded one level; only units that hold parameters. The model's own
    parameters (a ViT's class token and position embedding), input-level state, come last as one
    unit named after them (``cls_token+pos_embed``); left out, they kept trained maps of
    activation-only methods (Eigen-CAM) after every layer was randomised."""
    units: list[tuple[str, nn.Module]] = []
    for name, child in model.named_children():
        expand = isinstance(child, nn.Sequential | nn.ModuleList)
        parts = child.named_children() if expand else [("", child)]
        for sub, module in parts:
            if any(True for _ in module.parameters()):
                units.append((f"{name}.{sub}" if sub else name, module))
    own = [name for name, _ in model.named_parameters(recurse=False)]
    if own:
        units.insert(0, ("+".join(own), _OwnParameters(model)))
    return units[::-1]


def _reinitialise(module: nn.Module, generator: torch.Generator) -> None:
    """Weights as at construction, drawn from ``generator``: He-normal matrices and kernels, unit
    scales (1-D weights, e.g. BatchNorm) and zero biases."""
    with torch.no_grad():
        for name, param in module.named_parameters():
            if param.ndim > 1:
                std = (2.0 / param[0].numel()) ** 0.5  # He init: keeps activations from vanishing
                param.copy_(torch.randn(param.shape, generator=generator) * std)
            elif name.endswith("weight"):
                param.fill_(1.0)
            else:
                param.zero_()


def _spearman(trained: np.ndarray, randomised: np.ndarray) -> float:
    """Rank correlation of two maps; a randomised map that became constant kept no ranking (0);
    a constant trained map has none to keep (NaN, left out of the mean)."""
    if np.ptp(trained) == 0:
        return float("nan")
    if np.ptp(randomised) == 0:
        return 0.0
    return float(spearmanr(trained.ravel(), randomised.ravel()).statistic)


def _rank_correlations(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    signed = [_spearman(x, y) for x, y in zip(a, b, strict=True)]
    absolute = [_spearman(np.abs(x), np.abs(y)) for x, y in zip(a, b, strict=True)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN: every trained map was constant
        return float(np.nanmean(signed)), float(np.nanmean(absolute))


def randomisation_test(
    model: nn.Module,
    x: torch.Tensor,
    *,
    method: str,
    make=None,
    mode: str = "cascading",
    seed: int = 0,
    **explainer_kwargs: Any,
) -> pd.DataFrame:
    """Rank correlation between maps of ``model`` and of progressively randomised copies.

    Parameters
    ----------
    model: trained classifier (not modified: copies are randomised). x: normalised batch [N, 3, H, W].
    method: a saliency method name. make: optional ``make(module) -> Explainer`` (default: the
    registry class with ``explainer_kwargs``). mode: "cascading" or "full".

    Returns
    -------
    DataFrame: step, randomised (unit names down to this step, or "all"), spearman, spearman_abs.
    Targets are the trained model's predicted classes throughout.
    """
    if mode not in MODES:
        raise ExplainError(f"--mode {mode!r} must be one of {', '.join(MODES)}")
    if get_explainer(method).kind != "map":
        raise ExplainError(f"{method} gives no saliency map: the randomisation test needs one")
    make = make or (lambda module: get_explainer(method)(module, **explainer_kwargs))
    with make(model) as explainer:
        trained = explainer.explain(x)
    targets = trained.targets
    generator = torch.Generator().manual_seed(seed)
    copy_model = copy.deepcopy(model)
    units = randomisation_units(copy_model)
    steps = [units] if mode == "full" else [units[: k + 1] for k in range(len(units))]
    rows = []
    for step, chosen in enumerate(steps):
        for _, module in chosen[-1:] if mode == "cascading" else chosen:
            _reinitialise(module, generator)
        with make(copy_model) as explainer:
            randomised = explainer.explain(x, targets).maps
        rho, rho_abs = _rank_correlations(trained.maps, randomised)
        label = "all" if mode == "full" else chosen[-1][0]
        rows.append({"step": step + 1, "randomised": label, "spearman": rho, "spearman_abs": rho_abs})
    return pd.DataFrame.from_records(rows)


def sanity_check(
    settings: Settings,
    *,
    model: str,
    methods: list[str],
    split: str = "test",
    n_items: int = DEFAULT_ITEMS,
    mode: str = "cascading",
    seed: int = 0,
    options: ExplainOptions = ExplainOptions(),
) -> pd.DataFrame:
    """``trustlab sanity-check``: the randomisation test on the first ``n_items`` items of a split.

    options: the methods' parameters, target layer and device (batch size and faithfulness unused).
    Returns the rows of :func:`randomisation_test` for each method, with a ``method`` column."""
    with unit_of_work(settings) as session:
        version = get_model_version(session, name=model)
        items = list_items(session, dataset_id=version.dataset_id, split=split)[:n_items]
    if not items:
        raise ExplainError(f"the dataset of model {model!r} has no items in split {split!r}")
    loaded = load_model(settings, model, device=options.device)
    x = loaded.load_items(items)
    frames = []
    for method, resolved in options.method_params(methods).items():

        def make(module: nn.Module, method: str = method, resolved: dict = resolved):
            return make_explainer(method, loaded, resolved, module=module)

        frame = randomisation_test(loaded.module, x, method=method, make=make, mode=mode, seed=seed)
        frames.append(frame.assign(method=method))
    return pd.concat(frames, ignore_index=True)[["method", "step", "randomised", "spearman", "spearman_abs"]]
